<?php

declare(strict_types=1);

namespace Palisade;

/**
 * Client for Palisade's partner API: the BotGuard-compatible routes
 * (/website, /user) and the native /v1 API. Results are the API's JSON
 * objects as arrays; errors are ApiException. Needs PHP 8.1+ and nothing
 * beyond the json extension (curl is used when loaded).
 *
 *     $p = new \Palisade\Client('https://shield.example.net', getenv('PALISADE_API_KEY'));
 *     $site = $p->createWebsite('shop.example.com', user: 42, plan: '10k', idempotencyKey: 'order-1234');
 *
 * Every method names its operation of /openapi.json (@operation); a test
 * checks the two cannot drift apart.
 */
final class Client
{
    private string $baseUrl;

    public function __construct(
        string $baseUrl,
        private string $apiKey,
        private int $timeout = 30,
        private string $userAgent = 'palisade-php-client',
    ) {
        $this->baseUrl = rtrim($baseUrl, '/');
    }

    // ---- BotGuard-compatible routes ----

    /** @operation GET /website */
    public function websites(): array
    {
        return $this->call('GET', '/website');
    }

    /** @operation POST /website */
    public function createWebsite(string $domain, ?int $user = null, ?string $plan = null, ?string $idempotencyKey = null): array
    {
        return $this->call('POST', '/website', body: self::clean(['domain' => $domain, 'user' => $user, 'plan' => $plan]), idempotencyKey: $idempotencyKey);
    }

    /** @operation GET /website/{domain} */
    public function website(string $domain): array
    {
        return $this->call('GET', '/website/' . rawurlencode($domain));
    }

    /** Pauses ("paused") or resumes ("online") a website. @operation PUT /website/{domain} */
    public function setWebsiteStatus(string $domain, string $status, ?string $ifMatch = null): array
    {
        return $this->call('PUT', '/website/' . rawurlencode($domain), body: ['status' => $status], ifMatch: $ifMatch);
    }

    /** Deregisters a website (final; nothing refunded). @operation DELETE /website/{domain} */
    public function deleteWebsite(string $domain): array
    {
        return $this->call('DELETE', '/website/' . rawurlencode($domain));
    }

    /** Subaccounts, or the one with $email. @operation GET /user */
    public function findUsers(?string $email = null): array
    {
        return $this->call('GET', '/user', self::clean(['email' => $email]));
    }

    /** @operation POST /user */
    public function createUserCompat(array $user, ?string $idempotencyKey = null): array
    {
        return $this->call('POST', '/user', body: $user, idempotencyKey: $idempotencyKey);
    }

    /** @operation DELETE /user/{id} */
    public function deleteUserCompat(int $id): array
    {
        return $this->call('DELETE', '/user/' . $id);
    }

    // ---- /v1 ----

    /** @operation GET /v1/plans */
    public function plans(): array
    {
        return $this->call('GET', '/v1/plans')['data'];
    }

    /** One page: ['data' => [...], 'next_cursor' => ?string]. @operation GET /v1/websites */
    public function listWebsites(array $filter = []): array
    {
        return $this->call('GET', '/v1/websites', $filter);
    }

    /** @operation POST /v1/websites */
    public function registerWebsite(string $domain, ?int $user = null, ?string $plan = null, ?string $idempotencyKey = null): array
    {
        return $this->call('POST', '/v1/websites', body: self::clean(['domain' => $domain, 'user' => $user, 'plan' => $plan]), idempotencyKey: $idempotencyKey);
    }

    /** @operation GET /v1/websites/{domain} */
    public function getWebsite(string $domain): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain));
    }

    /** $changes: status (paused, online), user and/or plan, all or none. @operation PATCH /v1/websites/{domain} */
    public function updateWebsite(string $domain, array $changes, ?string $ifMatch = null, ?string $idempotencyKey = null): array
    {
        return $this->call('PATCH', '/v1/websites/' . rawurlencode($domain), body: $changes, idempotencyKey: $idempotencyKey, ifMatch: $ifMatch);
    }

    /** @operation DELETE /v1/websites/{domain} */
    public function deregisterWebsite(string $domain, ?string $ifMatch = null): array
    {
        return $this->call('DELETE', '/v1/websites/' . rawurlencode($domain), ifMatch: $ifMatch);
    }

    /** Upgrades are charged pro rata; a downgrade is "forbidden" unless allowed. @operation POST /v1/websites/{domain}/plan */
    public function changePlan(string $domain, string $plan, ?string $idempotencyKey = null): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/plan', body: ['plan' => $plan], idempotencyKey: $idempotencyKey);
    }

    /** @operation POST /v1/websites/{domain}/renew */
    public function renew(string $domain, int $months = 1, ?string $idempotencyKey = null): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/renew', body: ['months' => $months], idempotencyKey: $idempotencyKey);
    }

    /** @operation GET /v1/websites/{domain}/settings */
    public function settings(string $domain): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/settings');
    }

    /** @operation PUT /v1/websites/{domain}/settings */
    public function putSettings(string $domain, array $settings, ?string $ifMatch = null): array
    {
        return $this->call('PUT', '/v1/websites/' . rawurlencode($domain) . '/settings', body: (object) $settings, ifMatch: $ifMatch);
    }

    /** $filter: from, to, action, ip, rule, limit, cursor. @operation GET /v1/websites/{domain}/events */
    public function events(string $domain, array $filter = []): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/events', $filter);
    }

    /** $filter: period (minute, hour, day), from, to. @operation GET /v1/websites/{domain}/stats */
    public function stats(string $domain, array $filter = []): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/stats', $filter);
    }

    /** Website firewall decisions by attack class (blocked, detected); $filter: from, to. @operation GET /v1/websites/{domain}/waf/stats */
    public function wafStats(string $domain, array $filter = []): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/waf/stats', $filter);
    }

    // ---- scanning and backups (docs/SCANNING.md) ----

    /**
     * The website's scan and backup settings: ['domain' => ..., 'settings' =>
     * ['files' => [...], 'database' => [...], 'patch' => [...], 'backup' => [...]]].
     * Secrets are never answered: *_set says whether one is stored.
     * @operation GET /v1/websites/{domain}/scanner */
    public function scanner(string $domain): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/scanner');
    }

    /**
     * Replaces all four parts of the settings (read them first and change
     * what you mean to). A secret left "" keeps the stored one, "-" removes
     * it. Every problem is in ApiException::$errors.
     * @operation PUT /v1/websites/{domain}/scanner */
    public function putScanner(string $domain, array $settings): array
    {
        // PHP's [] is a JSON array: send the parts left empty as {}.
        foreach ($settings as $part => $v) {
            if ($v === []) {
                $settings[$part] = new \stdClass();
            }
        }
        if (($settings['files']['source'] ?? null) === []) {
            $settings['files']['source'] = new \stdClass();
        }
        return $this->call('PUT', '/v1/websites/' . rawurlencode($domain) . '/scanner', body: (object) $settings);
    }

    /** Queues a job: $kind files, database, patch or backup. @operation POST /v1/websites/{domain}/scans */
    public function startScan(string $domain, string $kind): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/scans', body: ['kind' => $kind]);
    }

    /**
     * Queues an update of one component the last patch check reported:
     * $type core, plugin or theme, $slug the plugin's or theme's slug (''
     * for the core), $root the install's folder under the document root
     * ('' for the root). Palisade takes a backup first, then runs the
     * operator's update command, then checks again; answers the job.
     * @operation POST /v1/websites/{domain}/updates */
    public function updateComponent(string $domain, string $type, string $slug = '', string $root = ''): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/updates', body: ['type' => $type, 'slug' => $slug, 'root' => $root]);
    }

    /** Jobs, newest first; $filter: kind (files, database, patch, backup, action, restore), limit. @operation GET /v1/websites/{domain}/scans */
    public function scans(string $domain, array $filter = []): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/scans', $filter)['data'];
    }

    /** One page of findings; $filter: kind, state (open, quarantined, cleaned, ignored, resolved), limit, cursor. @operation GET /v1/websites/{domain}/findings */
    public function findings(string $domain, array $filter = []): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/findings', $filter);
    }

    /** Marks an open finding as not malware. @operation POST /v1/websites/{domain}/findings/{id}/ignore */
    public function ignoreFinding(string $domain, int $id): array
    {
        return $this->call('POST', self::findingPath($domain, $id, 'ignore'));
    }

    /** Opens an ignored finding again. @operation POST /v1/websites/{domain}/findings/{id}/unignore */
    public function unignoreFinding(string $domain, int $id): array
    {
        return $this->call('POST', self::findingPath($domain, $id, 'unignore'));
    }

    /** Queues the job moving the finding's file to quarantine (answers the job). @operation POST /v1/websites/{domain}/findings/{id}/quarantine */
    public function quarantineFinding(string $domain, int $id): array
    {
        return $this->call('POST', self::findingPath($domain, $id, 'quarantine'));
    }

    /** Queues the job putting a quarantined file back. @operation POST /v1/websites/{domain}/findings/{id}/restore */
    public function restoreFinding(string $domain, int $id): array
    {
        return $this->call('POST', self::findingPath($domain, $id, 'restore'));
    }

    /** Queues the job removing a known injection from the file. @operation POST /v1/websites/{domain}/findings/{id}/clean */
    public function cleanFinding(string $domain, int $id): array
    {
        return $this->call('POST', self::findingPath($domain, $id, 'clean'));
    }

    /** The website's backups, newest first ($limit 1 to 500). @operation GET /v1/websites/{domain}/backups */
    public function backups(string $domain, ?int $limit = null): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/backups', self::clean(['limit' => $limit]))['data'];
    }

    /**
     * Queues a restore of a listed backup: $snapshot its snapshot or
     * short_id (its database_snapshot restores the database alone), $path
     * a file or folder under the document root ("" for every file),
     * $database also its database dump. Answers the job.
     * @operation POST /v1/websites/{domain}/backups/restore */
    public function restoreBackup(string $domain, string $snapshot, string $path = '', bool $database = false): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/backups/restore', body: ['snapshot' => $snapshot, 'path' => $path, 'database' => $database]);
    }

    /**
     * One folder of a backup: ['snapshot' => …, 'short_id' => …, 'path' =>
     * …, 'entries' => [['name', 'path', 'type', 'size', 'mode', 'mtime'],
     * …], 'truncated' => bool]. $snapshot is a listed backup's snapshot,
     * short_id or database_snapshot; $path a folder relative to the
     * document root ('' for the root). At most 5,000 entries: truncated
     * says there were more.
     * @operation GET /v1/websites/{domain}/backups/{snapshot}/files */
    public function browseBackup(string $domain, string $snapshot, string $path = ''): array
    {
        return $this->call('GET', self::backupPath($domain, $snapshot, 'files'), $path === '' ? [] : ['path' => $path]);
    }

    /**
     * Downloads a file, a folder or everything ($path '') of a backup as a
     * gzip-compressed tar archive (names relative to the document root)
     * into $to, and answers its size in bytes. $to is a writable stream,
     * or a file path: the archive is then written beside it under a
     * temporary name and renamed to $to once complete, so $to never holds
     * part of one. Streamed: the archive is never held in memory.
     *
     * An error Palisade answers before the download starts is an
     * ApiException as for any call (not_found, invalid, rate_limited, …;
     * nothing written). A download that breaks off after it started (the
     * server's size cap, the repository failing, the connection lost) is
     * an ApiException with code broken_download: a file path is left as it
     * was, a stream holds a broken archive. Failing to write $to is a
     * \RuntimeException.
     *
     * @param resource|string $to
     * @throws ApiException
     * @operation GET /v1/websites/{domain}/backups/{snapshot}/download */
    public function downloadBackup(string $domain, string $snapshot, string $path, $to): int
    {
        $p = self::backupPath($domain, $snapshot, 'download');
        $url = $this->baseUrl . $p . ($path === '' ? '' : '?' . http_build_query(['path' => $path]));
        $headers = ['Authorization: Bearer ' . $this->apiKey, 'Accept: application/gzip, application/json', 'User-Agent: ' . $this->userAgent];
        $tmp = null;
        if (is_string($to) && $to !== '') {
            $tmp = dirname($to) . '/.' . basename($to) . '.' . bin2hex(random_bytes(6)) . '.part';
            $out = @fopen($tmp, 'xb');
            if ($out === false) {
                throw new \RuntimeException("cannot write the download to $to: " . (error_get_last()['message'] ?? 'fopen failed'));
            }
        } elseif (is_resource($to) && get_resource_type($to) === 'stream' && strpbrk(stream_get_meta_data($to)['mode'], 'waxc+') !== false) {
            $out = $to;
        } else {
            throw new \InvalidArgumentException('downloadBackup: $to must be a stream open for writing or a file path');
        }
        try {
            $n = extension_loaded('curl')
                ? $this->downloadCurl($p, $url, $headers, $out)
                : $this->downloadStream($p, $url, $headers, $out);
            if (!fflush($out)) {
                throw new \RuntimeException('cannot write the download to ' . (is_string($to) ? $to : 'the stream'));
            }
            if ($tmp !== null) {
                $closed = fclose($out);
                $out = null;
                if (!$closed || !@rename($tmp, $to)) {
                    throw new \RuntimeException("cannot write the download to $to: " . (error_get_last()['message'] ?? 'close failed'));
                }
                $tmp = null;
            }
            return $n;
        } finally {
            if ($tmp !== null) {
                if (is_resource($out)) {
                    fclose($out);
                }
                @unlink($tmp);
            }
        }
    }

    // ---- add-ons: extra requests and the scanning features (docs/API.md) ----

    /**
     * The website's add-ons and the products on sale: ['domain' => ...,
     * 'data' => [add-on, ...], 'products' => [['addon' => 'smart',
     * 'monthly_price' => '3.00', 'max_quantity' => 1], ...],
     * 'scan_addons_required' => bool]. With scan_addons_required a scanning
     * feature is switched on (putScanner) only once its add-on is bought.
     * @operation GET /v1/websites/{domain}/addons */
    public function addons(string $domain): array
    {
        return $this->call('GET', '/v1/websites/' . rawurlencode($domain) . '/addons');
    }

    /**
     * Buys an add-on: $addon extra_requests (quantity 1 to 10,000), smart,
     * smart_patch, smart_database or backup (quantity 1), charged at once
     * for the rest of the term and with every renewal. A feature the
     * website has is a 409 (ApiException code conflict), nothing charged.
     * @operation POST /v1/websites/{domain}/addons */
    public function addAddon(string $domain, string $addon, int $quantity = 1): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/addons', body: ['addon' => $addon, 'quantity' => $quantity]);
    }

    /** Changes an add-on's quantity (an increase is charged, a decrease refunds nothing). @operation PATCH /v1/websites/{domain}/addons/{addon} */
    public function setAddonQuantity(string $domain, int $id, int $quantity): array
    {
        return $this->call('PATCH', '/v1/websites/' . rawurlencode($domain) . '/addons/' . $id, body: ['quantity' => $quantity]);
    }

    /** Removes an add-on (nothing refunded); a scanning feature is switched off with it. @operation DELETE /v1/websites/{domain}/addons/{addon} */
    public function removeAddon(string $domain, int $id): void
    {
        $this->call('DELETE', '/v1/websites/' . rawurlencode($domain) . '/addons/' . $id);
    }

    /** Your scan agents (palisade agent on your web servers), revoked ones too. @operation GET /v1/scan-agents */
    public function scanAgents(): array
    {
        return $this->call('GET', '/v1/scan-agents')['data'];
    }

    /**
     * Creates a scan agent and its key: the answer's 'key' is shown here
     * only; a name in use by an agent that is not revoked is a 409.
     * @operation POST /v1/scan-agents */
    public function createScanAgent(string $name): array
    {
        return $this->call('POST', '/v1/scan-agents', body: ['name' => $name]);
    }

    /** Revokes a scan agent: its key is refused from then on. @operation DELETE /v1/scan-agents/{id} */
    public function revokeScanAgent(int $id): array
    {
        return $this->call('DELETE', '/v1/scan-agents/' . $id);
    }

    /** @operation GET /v1/lists */
    public function lists(): array
    {
        return $this->call('GET', '/v1/lists');
    }

    /** @operation PUT /v1/lists */
    public function putLists(array $allow, array $deny): array
    {
        return $this->call('PUT', '/v1/lists', body: ['allow' => array_values($allow), 'deny' => array_values($deny)]);
    }

    /** Your virtual patches and the operator's (read_only). @operation GET /v1/waf/patches */
    public function wafPatches(): array
    {
        return $this->call('GET', '/v1/waf/patches');
    }

    /** $patch: name, reason, seclang or rule, expires_at (RFC 3339) or expires_in (72h). @operation POST /v1/waf/patches */
    public function createWafPatch(array $patch): array
    {
        return $this->call('POST', '/v1/waf/patches', body: $patch);
    }

    /** @operation DELETE /v1/waf/patches/{id} */
    public function deleteWafPatch(int $id): void
    {
        $this->call('DELETE', '/v1/waf/patches/' . $id);
    }

    /** @operation GET /v1/waf/defaults */
    public function wafDefaults(): array
    {
        return $this->call('GET', '/v1/waf/defaults');
    }

    /** $newSiteMode: block or detect, for websites created from now on. @operation PUT /v1/waf/defaults */
    public function putWafDefaults(string $newSiteMode): array
    {
        return $this->call('PUT', '/v1/waf/defaults', body: ['new_site_mode' => $newSiteMode]);
    }

    /** @operation GET /v1/users */
    public function listUsers(array $filter = []): array
    {
        return $this->call('GET', '/v1/users', $filter);
    }

    /** The answer holds the subaccount's API key, once. @operation POST /v1/users */
    public function createUser(array $user, ?string $idempotencyKey = null): array
    {
        return $this->call('POST', '/v1/users', body: $user, idempotencyKey: $idempotencyKey);
    }

    /** @operation GET /v1/users/{id} */
    public function getUser(int $id): array
    {
        return $this->call('GET', '/v1/users/' . $id);
    }

    /** @operation DELETE /v1/users/{id} */
    public function deleteUser(int $id): void
    {
        $this->call('DELETE', '/v1/users/' . $id);
    }

    /** @operation GET /v1/credit */
    public function credit(): array
    {
        return $this->call('GET', '/v1/credit');
    }

    /** @operation GET /v1/credit/ledger */
    public function ledger(array $page = []): array
    {
        return $this->call('GET', '/v1/credit/ledger', $page);
    }

    /** @operation GET /v1/emails */
    public function emails(array $filter = []): array
    {
        return $this->call('GET', '/v1/emails', $filter);
    }

    /** @operation POST /v1/emails/{id}/sent */
    public function markEmailSent(int $id): array
    {
        return $this->call('POST', '/v1/emails/' . $id . '/sent');
    }

    /** @operation GET /v1/email-templates */
    public function emailTemplates(): array
    {
        return $this->call('GET', '/v1/email-templates')['data'];
    }

    /** @operation PUT /v1/email-templates/{kind} */
    public function putEmailTemplate(string $kind, string $subject, string $body): array
    {
        return $this->call('PUT', '/v1/email-templates/' . rawurlencode($kind), body: ['subject' => $subject, 'body' => $body]);
    }

    /** @operation GET /v1/branding */
    public function branding(): array
    {
        return $this->call('GET', '/v1/branding');
    }

    /** @operation PUT /v1/branding */
    public function putBranding(array $branding): array
    {
        return $this->call('PUT', '/v1/branding', body: $branding);
    }

    /** A single-use sign-in link to the website's pages (five minutes). @operation POST /v1/websites/{domain}/login-link */
    public function websiteLoginLink(string $domain): array
    {
        return $this->call('POST', '/v1/websites/' . rawurlencode($domain) . '/login-link');
    }

    /** @operation POST /v1/users/{id}/login-link */
    public function userLoginLink(int $id): array
    {
        return $this->call('POST', '/v1/users/' . $id . '/login-link');
    }

    /** ['config' => [...], 'routes' => [...]]. @operation GET /v1/userapi */
    public function userApi(): array
    {
        return $this->call('GET', '/v1/userapi');
    }

    /** @operation PUT /v1/userapi */
    public function putUserApi(array $config): array
    {
        return $this->call('PUT', '/v1/userapi', body: $config);
    }

    /** @operation GET /v1/userapi/log */
    public function userApiLog(array $page = []): array
    {
        return $this->call('GET', '/v1/userapi/log', $page);
    }

    /** @operation GET /v1/audit */
    public function audit(array $page = []): array
    {
        return $this->call('GET', '/v1/audit', $page);
    }

    // ---- transport ----

    private static function findingPath(string $domain, int $id, string $action): string
    {
        return '/v1/websites/' . rawurlencode($domain) . '/findings/' . $id . '/' . $action;
    }

    private static function clean(array $a): array
    {
        return array_filter($a, static fn ($v) => $v !== null);
    }

    /**
     * Sends one request and returns the decoded answer ([] for none).
     *
     * @throws ApiException
     */
    public function call(string $method, string $path, array $query = [], array|object|null $body = null, ?string $idempotencyKey = null, ?string $ifMatch = null): array
    {
        $url = $this->baseUrl . $path . ($query ? '?' . http_build_query($query) : '');
        $headers = ['Authorization: Bearer ' . $this->apiKey, 'Accept: application/json', 'User-Agent: ' . $this->userAgent];
        $payload = null;
        if ($body !== null) {
            $payload = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
            $headers[] = 'Content-Type: application/json';
        }
        if ($idempotencyKey !== null && $idempotencyKey !== '') {
            $headers[] = 'Idempotency-Key: ' . $idempotencyKey;
        }
        if ($ifMatch !== null && $ifMatch !== '') {
            $headers[] = 'If-Match: ' . $ifMatch;
        }
        [$status, $respHeaders, $raw] = extension_loaded('curl')
            ? $this->sendCurl($method, $url, $headers, $payload)
            : $this->sendStream($method, $url, $headers, $payload);
        $data = $raw === '' ? [] : json_decode($raw, true);
        if ($status >= 300) {
            throw self::answered($method, $path, $status, $respHeaders, $data);
        }
        if (!is_array($data)) {
            throw new ApiException("Palisade's answer to $method $path is not JSON", $status, 'internal');
        }
        return $data;
    }

    /** The ApiException of an error answer ($data: its decoded JSON). */
    private static function answered(string $method, string $path, int $status, array $respHeaders, mixed $data): ApiException
    {
        $retry = (int) ($respHeaders['retry-after'] ?? 0);
        if (is_array($data) && isset($data['message'])) {
            return new ApiException((string) $data['message'], $status, (string) ($data['code'] ?? 'internal'),
                (string) ($data['field'] ?? ''), (array) ($data['errors'] ?? []), $retry);
        }
        return new ApiException("Palisade answered HTTP $status to $method $path", $status, 'internal', retryAfter: $retry);
    }

    private function unreachable(string $method, string $url, string $why): ApiException
    {
        return new ApiException("Palisade cannot be reached at {$this->baseUrl} ($method " . parse_url($url, PHP_URL_PATH) . "): $why", 0, 'unreachable');
    }

    /** @return array{int, array<string,string>, string} */
    private function sendCurl(string $method, string $url, array $headers, ?string $payload): array
    {
        $respHeaders = [];
        $ch = curl_init($url);
        curl_setopt_array($ch, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => $this->timeout,
            CURLOPT_CONNECTTIMEOUT => min(10, $this->timeout),
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$respHeaders): int {
                $parts = explode(':', $line, 2);
                if (count($parts) === 2) {
                    $respHeaders[strtolower(trim($parts[0]))] = trim($parts[1]);
                }
                return strlen($line);
            },
        ]);
        if ($payload !== null) {
            curl_setopt($ch, CURLOPT_POSTFIELDS, $payload);
        }
        $raw = curl_exec($ch);
        if ($raw === false) {
            $err = curl_error($ch);
            curl_close($ch);
            throw $this->unreachable($method, $url, $err);
        }
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        return [$status, $respHeaders, (string) $raw];
    }

    /** @return array{int, array<string,string>, string} */
    private function sendStream(string $method, string $url, array $headers, ?string $payload): array
    {
        $ctx = stream_context_create(['http' => [
            'method' => $method,
            'header' => implode("\r\n", $headers),
            'content' => $payload ?? '',
            'timeout' => $this->timeout,
            'ignore_errors' => true,
        ]]);
        $raw = @file_get_contents($url, false, $ctx);
        $lines = $http_response_header ?? [];
        if ($raw === false || !$lines) {
            $err = error_get_last()['message'] ?? 'no answer';
            throw $this->unreachable($method, $url, $err);
        }
        [$status, $respHeaders] = self::headerLines($lines);
        return [$status, $respHeaders, (string) $raw];
    }

    /**
     * The status and headers (names in lower case) of the last response
     * in $lines (a redirect's come first).
     *
     * @return array{int, array<string,string>}
     */
    private static function headerLines(array $lines): array
    {
        $status = 0;
        $respHeaders = [];
        foreach ($lines as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
                $status = (int) $m[1];
                $respHeaders = [];
            } elseif (str_contains($line, ':')) {
                [$k, $v] = explode(':', $line, 2);
                $respHeaders[strtolower(trim($k))] = trim($v);
            }
        }
        return [$status, $respHeaders];
    }

    // ---- backup downloads: the archive streamed to a stream ----

    private static function backupPath(string $domain, string $snapshot, string $verb): string
    {
        return '/v1/websites/' . rawurlencode($domain) . '/backups/' . rawurlencode($snapshot) . '/' . $verb;
    }

    private function broken(string $path, int $status, int $n, string $why): ApiException
    {
        return new ApiException("GET $path: the download broke off after $n bytes ($why): what was received is not a whole archive", $status, 'broken_download');
    }

    /** Writes all of $data to $out. */
    private static function writeAll($out, string $data): bool
    {
        while ($data !== '') {
            $w = @fwrite($out, $data);
            if ($w === false || $w === 0) {
                return false;
            }
            $data = substr($data, $w);
        }
        return true;
    }

    /**
     * With curl: the body goes to $out as it arrives; an error answer is
     * kept (at most 1 MiB) and thrown. curl reports a body cut short of
     * its chunked encoding's end or its Content-Length. No limit on the
     * whole transfer: it gives up when nothing arrives for $timeout
     * seconds.
     */
    private function downloadCurl(string $path, string $url, array $headers, $out): int
    {
        $status = 0;
        $respHeaders = [];
        $errBody = '';
        $n = 0;
        $writeFailed = false;
        $ch = curl_init($url);
        curl_setopt_array($ch, [
            CURLOPT_HTTPGET => true,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_CONNECTTIMEOUT => min(10, $this->timeout),
            CURLOPT_LOW_SPEED_LIMIT => 1,
            CURLOPT_LOW_SPEED_TIME => $this->timeout,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$status, &$respHeaders): int {
                [$s, $h] = self::headerLines([rtrim($line, "\r\n")]);
                if ($s !== 0) {
                    [$status, $respHeaders] = [$s, []];
                } else {
                    $respHeaders = $h + $respHeaders;
                }
                return strlen($line);
            },
            CURLOPT_WRITEFUNCTION => static function ($ch, string $data) use (&$status, &$errBody, &$n, &$writeFailed, $out): int {
                if ($status >= 300) {
                    if (strlen($errBody) < 1 << 20) {
                        $errBody .= $data;
                    }
                    return strlen($data);
                }
                if (!self::writeAll($out, $data)) {
                    $writeFailed = true;
                    return 0; // curl stops
                }
                $n += strlen($data);
                return strlen($data);
            },
        ]);
        $ok = curl_exec($ch);
        $err = curl_error($ch);
        curl_close($ch);
        if ($writeFailed) {
            throw new \RuntimeException("cannot write the download of $path: " . (error_get_last()['message'] ?? 'write failed'));
        }
        if ($status === 0) {
            throw $this->unreachable('GET', $url, $ok === false ? $err : 'no answer');
        }
        if ($status >= 300) {
            throw self::answered('GET', $path, $status, $respHeaders, json_decode($errBody, true));
        }
        if ($ok === false) {
            throw $this->broken($path, $status, $n, $err);
        }
        return $n;
    }

    /**
     * With PHP's stream wrapper, as HTTP/1.1 with the body left encoded:
     * the chunked encoding's last chunk (or the Content-Length) tells a
     * whole download from one cut short, which PHP's own dechunking does
     * not report.
     */
    private function downloadStream(string $path, string $url, array $headers, $out): int
    {
        $ctx = stream_context_create(['http' => [
            'method' => 'GET',
            'header' => implode("\r\n", [...$headers, 'Connection: close']),
            'timeout' => $this->timeout,
            'ignore_errors' => true,
            'follow_location' => 0,
            'protocol_version' => 1.1,
            'auto_decode' => false,
        ]]);
        $in = @fopen($url, 'rb', false, $ctx);
        if ($in === false) {
            throw $this->unreachable('GET', $url, error_get_last()['message'] ?? 'no answer');
        }
        try {
            [$status, $respHeaders] = self::headerLines(stream_get_meta_data($in)['wrapper_data'] ?? []);
            if ($status === 0) {
                throw $this->unreachable('GET', $url, 'no answer');
            }
            if ($status >= 300) {
                $buf = fopen('php://temp', 'w+b');
                $n = 0;
                $this->copyBody($in, $buf, $respHeaders, $n, 1 << 20);
                rewind($buf);
                $raw = (string) stream_get_contents($buf);
                fclose($buf);
                throw self::answered('GET', $path, $status, $respHeaders, json_decode($raw, true));
            }
            $n = 0;
            $why = $this->copyBody($in, $out, $respHeaders, $n);
            if ($why !== '') {
                throw $this->broken($path, $status, $n, $why);
            }
            return $n;
        } finally {
            fclose($in);
        }
    }

    /**
     * Copies the body of $in (its framing by $respHeaders: chunked, a
     * Content-Length or the connection's end) to $out, at most $max bytes;
     * $n counts the bytes written. Answers '' when the body was whole, else
     * why not.
     */
    private function copyBody($in, $out, array $respHeaders, int &$n, int $max = PHP_INT_MAX): string
    {
        if (stripos($respHeaders['transfer-encoding'] ?? '', 'chunked') !== false) {
            while (true) {
                $line = fgets($in, 1024);
                if ($line === false || !str_ends_with($line, "\n")) {
                    return $this->readFailure($in, 'before the last chunk');
                }
                if (!preg_match('/^([0-9a-fA-F]{1,15})[ \t]*(;[^\r\n]*)?\r?\n$/', $line, $m)) {
                    return 'a malformed chunk';
                }
                $size = (int) hexdec($m[1]);
                if ($size === 0) {
                    do { // trailers, up to the empty line
                        $line = fgets($in, 8192);
                        if ($line === false) {
                            return $this->readFailure($in, 'in the trailer');
                        }
                    } while (rtrim($line, "\r\n") !== '');
                    return '';
                }
                if (($why = $this->copyN($in, $out, $size, $n, $max)) !== '') {
                    return $why;
                }
                $crlf = fgets($in, 3);
                if ($crlf !== "\r\n" && $crlf !== "\n") {
                    return $crlf === false ? $this->readFailure($in, 'inside a chunk') : 'a malformed chunk';
                }
            }
        }
        if (isset($respHeaders['content-length']) && preg_match('/^\d{1,18}$/', $respHeaders['content-length'])) {
            return $this->copyN($in, $out, (int) $respHeaders['content-length'], $n, $max);
        }
        // Delimited by the connection's end: only a timeout tells a cut
        // from the end (Palisade answers HTTP/1.1 chunked; a proxy may not).
        $why = $this->copyN($in, $out, PHP_INT_MAX, $n, $max);
        return stream_get_meta_data($in)['timed_out'] ? $why : '';
    }

    /** Copies $len bytes of $in to $out (those beyond $max are read and dropped). */
    private function copyN($in, $out, int $len, int &$n, int $max): string
    {
        while ($len > 0) {
            $buf = fread($in, min(1 << 16, $len));
            if ($buf === false || $buf === '') {
                return $this->readFailure($in, 'before the end');
            }
            $len -= strlen($buf);
            if ($n < $max) {
                $buf = substr($buf, 0, $max - $n);
                if (!self::writeAll($out, $buf)) {
                    throw new \RuntimeException('cannot write the download: ' . (error_get_last()['message'] ?? 'write failed'));
                }
                $n += strlen($buf);
            }
        }
        return '';
    }

    private function readFailure($in, string $where): string
    {
        if (stream_get_meta_data($in)['timed_out']) {
            return "nothing arrived for {$this->timeout} seconds";
        }
        return "the connection closed $where";
    }
}
