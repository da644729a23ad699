<?php
/**
 * WordPress Version (test fixture, not a copy of WordPress)
 *
 * @global string $wp_version
 */
$wp_version = '6.4.2';

/** @global int $wp_db_version */
$wp_db_version = 56657;
