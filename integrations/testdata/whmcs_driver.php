<?php
// Test bootstrap: the WHMCS functions the module calls, stubbed; then one
// module function run with the parameters given as JSON.
// Usage: php whmcs_driver.php MODULE_FILE FUNCTION PARAMS_JSON
define('PALISADE_WHMCS_TEST', true);
$GLOBALS['palisade_log'] = [];
function logModuleCall($module, $action, $request, $response, $processed = '', $replace = [])
{
    $GLOBALS['palisade_log'][] = ['module' => $module, 'action' => $action, 'request' => $request,
        'response' => $response, 'processed' => $processed, 'replace' => $replace];
}
require $argv[1];
$fn = 'palisade_' . $argv[2];
$params = json_decode($argv[3], true, 512, JSON_THROW_ON_ERROR);
$result = $fn($params);
echo json_encode(['result' => $result, 'log' => $GLOBALS['palisade_log']], JSON_UNESCAPED_SLASHES);
