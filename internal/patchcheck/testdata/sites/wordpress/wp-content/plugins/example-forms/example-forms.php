<?php
/**
 * Plugin Name:       Example Forms
 * Plugin URI:        https://example.invalid/example-forms
 * Description:       Test fixture plugin (Palisade test data).
 * Version:           2.3.1
 * Requires PHP:      7.4
 * Author:            Example Author
 */
defined( 'ABSPATH' ) || exit;
