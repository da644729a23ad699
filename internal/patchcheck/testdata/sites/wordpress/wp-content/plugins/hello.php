<?php
/**
 * @package Hello_Fixture
 * @version 1.7.2
 */
/*
Plugin Name: Hello Fixture
Description: Test fixture single-file plugin.
Version: 1.7.2
*/
