<?php
// Downloads from a backup with the PHP client into a file path or an open
// stream, and prints the answer or the error.
// Usage: php download_driver.php SRC_DIR BASE_URL API_KEY DOMAIN SNAPSHOT PATH TARGET path|stream
// Prints {"result": bytes, "peak": bytes} or {"error": {"status", "code", "message", "field"}, "class": ...}.
require $argv[1] . '/ApiException.php';
require $argv[1] . '/Client.php';
[, , $url, $key, $domain, $snapshot, $path, $target, $mode] = $argv;
$c = new Palisade\Client($url, $key);
$to = $mode === 'stream' ? fopen($target, 'wb') : $target;
try {
    $out = ['result' => $c->downloadBackup($domain, $snapshot, $path, $to)];
} catch (Palisade\ApiException $e) {
    $out = ['error' => ['status' => $e->status, 'code' => $e->errorCode, 'message' => $e->getMessage(), 'field' => $e->field], 'class' => get_class($e)];
}
if (is_resource($to)) {
    $out['stream_open'] = true;
    fclose($to);
}
$out['transport'] = extension_loaded('curl') ? 'curl' : 'stream';
$out['peak'] = memory_get_peak_usage(true);
echo json_encode($out, JSON_UNESCAPED_SLASHES);
