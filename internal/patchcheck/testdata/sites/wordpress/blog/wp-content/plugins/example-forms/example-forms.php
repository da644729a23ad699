<?php
/*
 * Plugin Name: Example Forms
 * Version: 2.4.0
 */
