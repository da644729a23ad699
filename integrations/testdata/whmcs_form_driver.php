<?php
// whmcs_driver.php with a submitted form: the client area's POST fields,
// or with "get" the same fields in the query string instead.
// Usage: php whmcs_form_driver.php MODULE_FILE FUNCTION PARAMS_JSON FIELDS_JSON [get]
$fields = json_decode($argv[4], true, 512, JSON_THROW_ON_ERROR);
if (($argv[5] ?? '') === 'get') {
    $_GET = $fields;
} else {
    $_POST = $fields;
}
$_REQUEST = $fields;
require __DIR__ . '/whmcs_driver.php';
