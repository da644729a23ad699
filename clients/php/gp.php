<?php
/*
 * Command-line GP client, to try the API from a shell:
 *
 *   php gp.php URL API_KEY ENDPOINT DOMAIN [field=value ...]
 *   php gp.php URL API_KEY login DOMAIN [client|admin]
 *
 * It prints the JSON answer (or the login link Palisade made, from the
 * loginlink call). A 'password' field is encrypted with the key before it is sent. PALISADE_GP_NOW (a Unix time)
 * replaces this machine's clock, for tests on Palisade's.
 */
require __DIR__ . '/PalisadeGP.php';

if ($argc < 5) {
    fwrite(STDERR, "usage: php gp.php URL API_KEY ENDPOINT DOMAIN [field=value ...]\n");
    exit(2);
}
[$_, $url, $key, $endpoint, $domain] = array_slice($argv, 0, 5);
$clock = null;
if (getenv('PALISADE_GP_NOW') !== false && getenv('PALISADE_GP_NOW') !== '') {
    $fixed = (int) getenv('PALISADE_GP_NOW');
    $clock = function () use ($fixed) { return $fixed; };
}
$gp = new PalisadeGP($url, $key, 15, $clock);
if ($endpoint === 'login') {
    try {
        echo $gp->loginLink($domain, $argv[5] ?? 'client'), "\n";
    } catch (RuntimeException $e) {
        fwrite(STDERR, $e->getMessage() . "\n");
        exit(1);
    }
    exit(0);
}
$fields = [];
foreach (array_slice($argv, 5) as $arg) {
    $parts = explode('=', $arg, 2);
    if (count($parts) !== 2) {
        fwrite(STDERR, "fields are name=value, not $arg\n");
        exit(2);
    }
    $fields[$parts[0]] = $parts[1];
}
try {
    echo json_encode($gp->call($endpoint, $domain, $fields)), "\n";
} catch (RuntimeException $e) {
    fwrite(STDERR, $e->getMessage() . "\n");
    exit(1);
}
