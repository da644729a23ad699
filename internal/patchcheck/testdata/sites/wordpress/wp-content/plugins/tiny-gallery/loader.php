<?php
/*
Plugin Name: Tiny Gallery
Description: Test fixture plugin whose main file is not named after its folder.
Version: 1.9.0
*/
