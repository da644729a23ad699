<?php
// Calls one method of the PHP client and prints its answer or its error.
// Usage: php client_call.php SRC_DIR BASE_URL API_KEY METHOD ARGS_JSON
// Prints {"result": ...} or {"error": {"status", "code", "message", "field", "errors"}}.
require $argv[1] . '/ApiException.php';
require $argv[1] . '/Client.php';
$c = new Palisade\Client($argv[2], $argv[3]);
$args = json_decode($argv[5], true, 512, JSON_THROW_ON_ERROR);
try {
    $out = ['result' => $c->{$argv[4]}(...$args)];
} catch (Palisade\ApiException $e) {
    $out = ['error' => ['status' => $e->status, 'code' => $e->errorCode, 'message' => $e->getMessage(), 'field' => $e->field, 'errors' => $e->errors]];
}
echo json_encode($out, JSON_UNESCAPED_SLASHES);
