<?php
/**
 * Palisade GP reseller API client, for billing modules (WHMCS and others).
 *
 *   require 'PalisadeGP.php';
 *   $gp = new PalisadeGP('https://palisade.example.net', 'pk_...');
 *   $r = $gp->call('autoregister', 'shop.example.com', [
 *       'package' => '10k', 'uemail' => 'jane@example.com', 'password' => 'S3cure-Passw0rd',
 *   ]);
 *   if ($r['status'] !== 'ok') { ... show $r['status'] ... }
 *
 * Every call is a form POST to /api/v1/<endpoint>/ with domain, timestamp
 * and hash = sha1(sha1(trim(API_KEY)) . domain . timestamp). The timestamp
 * is the digits of the current Unix time, shuffled: Palisade accepts only
 * the digits of a time within five minutes of its clock, and each
 * (domain, timestamp, hash) once. A 'password' field is encrypted with the
 * API key before it is sent, as the protocol requires. Calls must come
 * from an address the operator registered for the key (palisade partner
 * allow-ip).
 *
 * Needs PHP 7.4+ with the openssl extension; no other dependency.
 */
final class PalisadeGP
{
    private $url;
    private $key;
    private $timeout;
    private $clock;

    /**
     * $clock returns the current Unix time (default time()); tests pass
     * Palisade's clock.
     */
    public function __construct(string $url, string $apiKey, int $timeout = 15, ?callable $clock = null)
    {
        $this->url = rtrim($url, '/');
        $this->key = trim($apiKey);
        $this->timeout = $timeout;
        $this->clock = $clock ?? 'time';
    }

    /** The digits of the Unix time $now, shuffled: the request's nonce. */
    public static function timestamp(int $now): string
    {
        $digits = str_split((string) $now);
        for ($i = count($digits) - 1; $i > 0; $i--) {
            $j = random_int(0, $i);
            [$digits[$i], $digits[$j]] = [$digits[$j], $digits[$i]];
        }
        return implode('', $digits);
    }

    /** The request signature. */
    public function hash(string $domain, string $timestamp): string
    {
        return sha1(sha1($this->key) . $domain . $timestamp);
    }

    /** base64(iv . hmac_sha256(ciphertext, key, raw) . ciphertext), AES-128-CBC. */
    public function encryptPassword(string $plaintext): string
    {
        $cipher = 'AES-128-CBC';
        $ivlen = openssl_cipher_iv_length($cipher);
        $iv = openssl_random_pseudo_bytes($ivlen);
        $ciphertext_raw = openssl_encrypt($plaintext, $cipher, $this->key, OPENSSL_RAW_DATA, $iv);
        $hmac = hash_hmac('sha256', $ciphertext_raw, $this->key, true);
        return base64_encode($iv . $hmac . $ciphertext_raw);
    }

    /**
     * Calls an endpoint: connection, getcredit, list, autoregister, suspended,
     * active, delete, packageupdate, passwordreset, renew or loginlink. Returns the
     * decoded answer; its 'status' says what happened.
     */
    public function call(string $endpoint, string $domain, array $fields = []): array
    {
        if (isset($fields['password']) && $fields['password'] !== '') {
            $fields['password'] = $this->encryptPassword($fields['password']);
        }
        $fields['domain'] = $domain;
        // A refused repeat was not carried out: send it again with another
        // shuffle (two calls in one second may draw the same one).
        for ($try = 0; ; $try++) {
            $fields['timestamp'] = self::timestamp(($this->clock)());
            $fields['hash'] = $this->hash($domain, $fields['timestamp']);
            $answer = $this->post($endpoint, $fields);
            if ($answer['status'] !== 'Request already used: send a new timestamp' || $try >= 2) {
                return $answer;
            }
        }
    }

    private function post(string $endpoint, array $fields): array
    {
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/x-www-form-urlencoded\r\n",
            'content' => http_build_query($fields),
            'timeout' => $this->timeout,
            'ignore_errors' => true,
        ]]);
        $body = @file_get_contents($this->url . '/api/v1/' . rawurlencode($endpoint) . '/', false, $context);
        if ($body === false) {
            throw new RuntimeException('Palisade cannot be reached at ' . $this->url);
        }
        $answer = json_decode($body, true);
        if (!is_array($answer) || !isset($answer['status'])) {
            throw new RuntimeException('Palisade answered something else than the GP protocol: ' . substr($body, 0, 200));
        }
        return $answer;
    }

    /**
     * A link that opens a dashboard without a password, valid for five
     * minutes and only once: panel 'client' opens the customer pages of
     * $domain, 'admin' the reseller's console ($domain is then any label,
     * such as the panel's host name). Palisade makes the link: this calls
     * loginlink, authenticated like every call (so only from the panel's
     * registered address), and returns the URL it answers, which the panel
     * hands to the browser at once. Links the panel signed itself are no
     * longer accepted. Throws RuntimeException with Palisade's status when
     * no link is given (an unknown domain, an address not allowed).
     */
    public function loginLink(string $domain, string $panel = 'client'): string
    {
        $answer = $this->call('loginlink', $domain, ['panel' => $panel]);
        if ($answer['status'] !== 'ok' || !isset($answer['url']) || !is_string($answer['url'])) {
            throw new RuntimeException('Palisade gave no login link: ' . $answer['status']);
        }
        return $answer['url'];
    }
}
