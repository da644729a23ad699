<?php
// Drives the PHP client through a website's life; prints what it saw.
// Usage: php client_driver.php SRC_DIR BASE_URL API_KEY
require $argv[1] . '/ApiException.php';
require $argv[1] . '/Client.php';
$c = new Palisade\Client($argv[2], $argv[3]);
$out = ['transport' => extension_loaded('curl') ? 'curl' : 'stream'];
$out['plans'] = count($c->plans());
$u = $c->createUser(['email' => 'php@example.com', 'first_name' => 'Php'], 'php-user-1');
$w = $c->createWebsite('php.example.com', $u['id'], '10k', 'php-site-1');
$again = $c->createWebsite('php.example.com', $u['id'], '10k', 'php-site-1');
$out['idempotent'] = $again['id'] === $w['id'];
$out['paused'] = $c->setWebsiteStatus('php.example.com', 'paused')['status'];
$c->setWebsiteStatus('php.example.com', 'online'); // a paused website's plan cannot change
try {
    $c->changePlan('php.example.com', 'Free');
} catch (Palisade\ApiException $e) {
    $out['downgrade'] = $e->errorCode;
}
try {
    $c->putSettings('php.example.com', ['mode' => 'loud']);
} catch (Palisade\ApiException $e) {
    $out['invalid'] = [$e->status, $e->errorCode, count($e->errors) > 0 || $e->field !== ''];
}
$out['link'] = str_starts_with($c->websiteLoginLink('php.example.com')['url'], $argv[2]);
$out['deleted'] = $c->deleteWebsite('php.example.com')['status'];
try {
    (new Palisade\Client($argv[2], 'pk_wrong'))->credit();
} catch (Palisade\ApiException $e) {
    $out['wrong_key'] = $e->errorCode;
}
try {
    (new Palisade\Client('http://127.0.0.1:1', 'pk_x', 2))->credit();
} catch (Palisade\ApiException $e) {
    $out['down'] = $e->errorCode;
}
echo json_encode($out);
