<?php
// whmcs_driver.php with a submitted form: the client area's POST fields.
// Usage: php whmcs_form_driver.php MODULE_FILE FUNCTION PARAMS_JSON POST_JSON
$_POST = json_decode($argv[4], true, 512, JSON_THROW_ON_ERROR);
$_REQUEST = $_POST;
require __DIR__ . '/whmcs_driver.php';
