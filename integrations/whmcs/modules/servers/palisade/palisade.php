<?php
/**
 * Palisade bot protection: WHMCS provisioning module.
 *
 * Sells a Palisade-protected website as a WHMCS product. The product's
 * server holds the Palisade URL (hostname, with "Secure" for https) and the
 * partner API key (the server's password or access hash). The service's
 * domain is the website. Malware scans, patch checks and backups are
 * sold with it, included or as configurable options, and applied to the
 * website's scan settings on create and upgrade (README.md).
 *
 * Every function returns "success" or a readable error, and logs its calls
 * through logModuleCall with the API key redacted.
 */

if (!defined('WHMCS') && !defined('PALISADE_WHMCS_TEST')) {
    die('This file cannot be accessed directly');
}

// The PHP client: shipped in lib/ when installed (see README.md), or found
// beside this repository's copy.
foreach ([__DIR__ . '/lib/palisade-php/src', __DIR__ . '/../../../../php/src'] as $dir) {
    if (is_file($dir . '/Client.php')) {
        require_once $dir . '/ApiException.php';
        require_once $dir . '/Client.php';
        break;
    }
}

use Palisade\ApiException;
use Palisade\Client;

function palisade_MetaData()
{
    return [
        'DisplayName' => 'Palisade Bot Protection',
        'APIVersion' => '1.1',
        'RequiresServer' => true,
        'DefaultNonSSLPort' => '80',
        'DefaultSSLPort' => '443',
        'ServiceSingleSignOnLabel' => 'Open bot protection dashboard',
        'AdminSingleSignOnLabel' => 'Open the customer\'s Palisade dashboard',
    ];
}

function palisade_ConfigOptions()
{
    return [
        'Plan' => [
            'Type' => 'text',
            'Size' => '20',
            'Default' => '10k',
            'Description' => 'Palisade plan name (see GET /v1/plans: Free, 10k, 20k, 40k, 100k, 200k, …)',
        ],
        'Default mode' => [
            'Type' => 'dropdown',
            'Options' => 'protect,monitor',
            'Default' => 'protect',
            'Description' => 'monitor records what would be blocked without blocking',
        ],
        // configoption3 to configoption13: scanning and backups (README.md).
        'Malware scan' => [
            'Type' => 'dropdown',
            'Options' => 'manual,off,included,add-on',
            'Default' => 'manual',
            'Description' => 'manual: left as set in Palisade; add-on: on when the service\'s configurable option "Malware scan" is chosen',
        ],
        'Malware scan every (hours)' => [
            'Type' => 'text',
            'Size' => '5',
            'Default' => '24',
            'Description' => '0: only when asked (Scan now); at most 720',
        ],
        'Patch check' => [
            'Type' => 'dropdown',
            'Options' => 'manual,off,included,add-on',
            'Default' => 'manual',
            'Description' => 'outdated and vulnerable CMS components; add-on: configurable option "Patch check"',
        ],
        'Patch check every (hours)' => [
            'Type' => 'text',
            'Size' => '5',
            'Default' => '24',
            'Description' => '0: only when asked; at most 720',
        ],
        'Backup' => [
            'Type' => 'dropdown',
            'Options' => 'manual,off,included,add-on',
            'Default' => 'manual',
            'Description' => 'files (and database) backups; add-on: configurable option "Backup"',
        ],
        'Backup every (hours)' => [
            'Type' => 'text',
            'Size' => '5',
            'Default' => '24',
            'Description' => '0: only when asked; at most 720',
        ],
        'Document root' => [
            'Type' => 'text',
            'Size' => '40',
            'Default' => '',
            'Description' => 'where the website\'s files are on Palisade\'s machines, under its --scan-root: /var/www/{domain}, /home/{username}/public_html; empty: as set in Palisade',
        ],
        'Backup repository' => [
            'Type' => 'text',
            'Size' => '40',
            'Default' => '',
            'Description' => 'a folder under Palisade\'s --backup-root (/srv/backups/{domain}); empty: as set in Palisade',
        ],
        'Backup retention' => [
            'Type' => 'text',
            'Size' => '10',
            'Default' => '7/4/6',
            'Description' => 'daily/weekly/monthly backups kept',
        ],
        'Auto clean' => [
            'Type' => 'yesno',
            'Description' => 'remove known injections after every malware scan (the original is kept in quarantine)',
        ],
        'Backup password' => [
            'Type' => 'password',
            'Size' => '30',
            'Default' => '',
            'Description' => 'restic\'s password for new repositories; empty: a random one per website, known only to Palisade',
        ],
    ];
}

/** The API client for the service's server. */
function palisade_client(array $params): Client
{
    $host = trim((string) ($params['serverhostname'] ?? '')) ?: trim((string) ($params['serverip'] ?? ''));
    if ($host === '') {
        throw new ApiException('The product has no Palisade server: set its hostname in Setup > Servers', 0, 'invalid');
    }
    $key = trim((string) ($params['serveraccesshash'] ?? '')) ?: (string) ($params['serverpassword'] ?? '');
    if ($key === '') {
        throw new ApiException('The Palisade server has no API key: put the partner key in the server\'s password or access hash', 0, 'invalid');
    }
    $scheme = !empty($params['serversecure']) && $params['serversecure'] !== 'off' ? 'https' : 'http';
    $base = preg_match('#^https?://#', $host) ? $host : $scheme . '://' . $host;
    if (!empty($params['serverport']) && !preg_match('#:\d+$#', $base)) {
        $base .= ':' . $params['serverport'];
    }
    return new Client($base, $key, 20, 'palisade-whmcs');
}

/** The API key, for redaction in logs. */
function palisade_secrets(array $params): array
{
    return array_values(array_filter([(string) ($params['serveraccesshash'] ?? ''), (string) ($params['serverpassword'] ?? '')]));
}

/**
 * Runs $fn with the client, logs the call, and turns every failure into a
 * readable string (never a PHP warning).
 */
function palisade_run(string $action, array $params, callable $fn)
{
    $request = ['domain' => $params['domain'] ?? '', 'serviceid' => $params['serviceid'] ?? ''];
    try {
        $result = $fn(palisade_client($params));
        logModuleCall('palisade', $action, $request, $result, is_string($result) ? $result : json_encode($result), palisade_secrets($params));
        return $result;
    } catch (ApiException $e) {
        $msg = palisade_error($e);
        logModuleCall('palisade', $action, $request, $e->getMessage(), $msg, palisade_secrets($params));
        return $msg;
    } catch (\Throwable $e) {
        $msg = 'Palisade module error: ' . $e->getMessage();
        logModuleCall('palisade', $action, $request, get_class($e), $msg, palisade_secrets($params));
        return $msg;
    }
}

function palisade_error(ApiException $e): string
{
    switch ($e->errorCode) {
        case 'unreachable':
            return 'Palisade could not be reached: ' . $e->getMessage();
        case 'unauthorized':
            return 'Palisade refused the API key: check the server\'s password/access hash (' . $e->getMessage() . ')';
        case 'payment_required':
            return 'Your Palisade credit is too low: ' . $e->getMessage();
        case 'forbidden':
            return 'Palisade refused: ' . $e->getMessage();
        case 'unavailable':
            return 'Palisade is unavailable; nothing was changed. Retry in a few seconds (' . $e->getMessage() . ')';
        case 'outcome_unknown':
            return 'Palisade may or may not have made this change (its database connection broke while saving it): check the service in Palisade before retrying';
    }
    return 'Palisade: ' . $e->getMessage() . ($e->field !== '' ? ' (' . $e->field . ')' : '');
}

function palisade_domain(array $params): string
{
    $d = strtolower(trim((string) ($params['domain'] ?? '')));
    if ($d === '') {
        throw new ApiException('The service has no domain: set the website\'s domain on the service', 0, 'invalid');
    }
    return $d;
}

/** Finds the client's subaccount by email, creating it once. */
function palisade_user(Client $c, array $params): int
{
    $cd = $params['clientsdetails'] ?? [];
    $email = (string) ($cd['email'] ?? '');
    if ($email === '') {
        throw new ApiException('The WHMCS client has no email address', 0, 'invalid');
    }
    $found = $c->findUsers($email);
    if ($found) {
        return (int) $found[0]['id'];
    }
    $u = $c->createUser(array_filter([
        'email' => $email,
        'first_name' => $cd['firstname'] ?? '',
        'last_name' => $cd['lastname'] ?? '',
        'company' => $cd['companyname'] ?? '',
        'country' => $cd['countrycode'] ?? ($cd['country'] ?? ''),
        'lang' => 'en',
    ], static fn ($v) => $v !== ''), 'whmcs-user-' . ($params['userid'] ?? $email));
    return (int) $u['id'];
}

function palisade_CreateAccount(array $params)
{
    return palisade_run('CreateAccount', $params, function (Client $c) use ($params) {
        $domain = palisade_domain($params);
        $user = palisade_user($c, $params);
        $plan = trim((string) ($params['configoption1'] ?? '')) ?: null;
        try {
            // The service id makes a retried create happen once.
            $site = $c->createWebsite($domain, $user, $plan, 'whmcs-create-' . ($params['serviceid'] ?? $domain));
        } catch (ApiException $e) {
            // Registered before (a retry after the idempotency window, or by
            // hand): this partner's website of that domain is the account.
            if (!$e->is('conflict')) {
                throw $e;
            }
            try {
                $site = $c->getWebsite($domain);
            } catch (ApiException $notOurs) {
                throw $e; // registered elsewhere: say so, not "not found"
            }
        }
        if (($params['configoption2'] ?? '') === 'monitor') {
            $c->putSettings($domain, array_merge($c->settings($domain)['settings'] ?? [], ['mode' => 'monitor']));
        }
        palisade_apply_scanner($c, $params, $domain);
        return 'success';
    });
}

function palisade_SuspendAccount(array $params)
{
    return palisade_run('SuspendAccount', $params, function (Client $c) use ($params) {
        $c->setWebsiteStatus(palisade_domain($params), 'paused');
        return 'success';
    });
}

function palisade_UnsuspendAccount(array $params)
{
    return palisade_run('UnsuspendAccount', $params, function (Client $c) use ($params) {
        $c->setWebsiteStatus(palisade_domain($params), 'online');
        return 'success';
    });
}

function palisade_TerminateAccount(array $params)
{
    return palisade_run('TerminateAccount', $params, function (Client $c) use ($params) {
        try {
            $c->deleteWebsite(palisade_domain($params));
        } catch (ApiException $e) {
            if (!$e->is('not_found')) { // already gone: terminated
                throw $e;
            }
        }
        return 'success';
    });
}

function palisade_ChangePackage(array $params)
{
    return palisade_run('ChangePackage', $params, function (Client $c) use ($params) {
        $plan = trim((string) ($params['configoption1'] ?? ''));
        if ($plan === '') {
            throw new ApiException('The product has no Palisade plan (module setting "Plan")', 0, 'invalid');
        }
        // One call, one transaction. Asking for the plan the website
        // already has changes and charges nothing, so a retry (after a
        // timeout, say) is safe without reading first.
        $c->updateWebsite(palisade_domain($params), ['plan' => $plan]);
        // Upgrades of the product or of its configurable options both come
        // here: the scan and backup add-ons follow them.
        palisade_apply_scanner($c, $params, palisade_domain($params));
        return 'success';
    });
}

function palisade_Renew(array $params)
{
    return palisade_run('Renew', $params, function (Client $c) use ($params) {
        $due = (string) ($params['model']['nextduedate'] ?? ($params['nextduedate'] ?? date('Y-m-d')));
        $c->renew(palisade_domain($params), 1, 'whmcs-renew-' . ($params['serviceid'] ?? '') . '-' . $due);
        return 'success';
    });
}

function palisade_TestConnection(array $params)
{
    $r = palisade_run('TestConnection', $params, function (Client $c) {
        $credit = $c->credit();
        return ['success' => true, 'error' => '', 'credit' => $credit['balance'] ?? ''];
    });
    return is_array($r) ? ['success' => true, 'error' => ''] : ['success' => false, 'error' => $r];
}

/** The customer's dashboard, embedded through a single-use sign-in link. */
function palisade_ClientArea(array $params)
{
    $r = palisade_run('ClientArea', $params, function (Client $c) use ($params) {
        return $c->websiteLoginLink(palisade_domain($params));
    });
    if (!is_array($r)) {
        return '<div class="alert alert-warning">' . htmlspecialchars($r) . '</div>';
    }
    $url = htmlspecialchars($r['url'], ENT_QUOTES);
    return palisade_scan_panel($params)
        . '<iframe src="' . $url . '" title="Bot protection" style="width:100%;min-height:900px;border:0" loading="lazy"></iframe>'
        . '<p><a href="' . $url . '" target="_blank" rel="noopener">Open the dashboard in a new window</a></p>';
}

function palisade_AdminServicesTabFields(array $params)
{
    $r = palisade_run('AdminServicesTabFields', $params, function (Client $c) use ($params) {
        return $c->getWebsite(palisade_domain($params));
    });
    if (!is_array($r)) {
        return ['Palisade' => htmlspecialchars($r)];
    }
    $key = htmlspecialchars((string) $r['server_key']);
    $node = htmlspecialchars((string) ($r['nodes']['primary'] ?? ''));
    return [
        'Palisade status' => htmlspecialchars((string) $r['status']) . ' (expires ' . htmlspecialchars(substr((string) $r['expires_at'], 0, 10)) . ')',
        'Palisade plan' => htmlspecialchars((string) $r['plan']),
        'Server key' => '<code>' . $key . '</code>',
        'Integration' => 'nginx: <code>set $palisade_key "' . $key . '"; include palisade.conf;</code> (the files of the integration guide in the nginx configuration directory; node ' . $node . ').'
            . ' Apache: Palisade\'s global include finds the site by its domain. See docs/INTEGRATIONS.md.',
    ];
}

function palisade_AdminSingleSignOn(array $params)
{
    $r = palisade_run('AdminSingleSignOn', $params, function (Client $c) use ($params) {
        return $c->websiteLoginLink(palisade_domain($params));
    });
    return is_array($r) ? ['success' => true, 'redirectTo' => $r['url']] : ['success' => false, 'errorMsg' => $r];
}

function palisade_ServiceSingleSignOn(array $params)
{
    return palisade_AdminSingleSignOn($params);
}

// ---- scanning and backups as configurable add-ons (README.md) ----

/** The scan kinds the product manages: kind => [mode setting, hours setting, configurable option]. */
function palisade_scan_kinds(): array
{
    return [
        'files' => ['configoption3', 'configoption4', 'Malware scan'],
        'patch' => ['configoption5', 'configoption6', 'Patch check'],
        'backup' => ['configoption7', 'configoption8', 'Backup'],
    ];
}

/** A product setting or configurable option's hours, 0 to 720. */
function palisade_hours(string $what, string $v): int
{
    $v = trim($v);
    if (!preg_match('/^\d{1,4}$/', $v) || (int) $v > 720) {
        throw new ApiException("$what: a number of hours from 0 (only when asked) to 720, not \"$v\"", 0, 'invalid');
    }
    return (int) $v;
}

/**
 * The configurable option of a scan kind, by its name (as WHMCS passes it:
 * the part before "|") or the kind's own name; null when the service has
 * none.
 */
function palisade_config_option(array $params, string $name, string $kind): ?string
{
    foreach ((array) ($params['configoptions'] ?? []) as $k => $v) {
        $k = strtolower(trim(explode('|', (string) $k, 2)[0]));
        if ($k === strtolower($name) || $k === $kind) {
            return is_array($v) ? null : trim((string) $v);
        }
    }
    return null;
}

/**
 * What the product (and the service's configurable options) want for each
 * scan kind: kind => null (manual: left as set in Palisade) or
 * ['enabled' => bool, 'every_hours' => int].
 */
function palisade_scan_plan(array $params): array
{
    $plan = [];
    foreach (palisade_scan_kinds() as $kind => [$modeKey, $hoursKey, $option]) {
        $mode = strtolower(trim((string) ($params[$modeKey] ?? '')));
        if ($mode === '' || $mode === 'manual') {
            $plan[$kind] = null;
            continue;
        }
        if (!in_array($mode, ['off', 'included', 'add-on'], true)) {
            throw new ApiException("Module setting \"$option\": manual, off, included or add-on, not \"$mode\"", 0, 'invalid');
        }
        $hv = trim((string) ($params[$hoursKey] ?? ''));
        $hours = palisade_hours("Module setting \"$option every (hours)\"", $hv === '' ? '24' : $hv);
        $on = $mode === 'included';
        $chosen = palisade_config_option($params, $option, $kind);
        if ($chosen !== null && $mode !== 'off') {
            // Yes/No options pass 1 or 0, quantities a number, drop-downs
            // the chosen option's name: on/off, or "24h" for a schedule.
            $v = strtolower($chosen);
            if (preg_match('/^(\d{1,4})\s*h$/', $v, $m)) {
                $on = true;
                $hours = palisade_hours("Configurable option \"$option\"", $m[1]);
            } elseif (in_array($v, ['', '0', 'no', 'off', 'none', 'false'], true)) {
                $on = $mode === 'included';
            } elseif (in_array($v, ['yes', 'on', 'true'], true) || (ctype_digit($v) && (int) $v > 0)) {
                $on = true;
            } else {
                throw new ApiException("Configurable option \"$option\": yes/no, on/off or a schedule such as 24h, not \"$chosen\"", 0, 'invalid');
            }
        }
        $plan[$kind] = ['enabled' => $on, 'every_hours' => $hours];
    }
    return $plan;
}

/** Fills a path template's {domain}, {username}, {serviceid}, {userid}. */
function palisade_path(array $params, string $template, string $setting): string
{
    $vars = [
        '{domain}' => palisade_domain($params),
        '{username}' => (string) ($params['username'] ?? ''),
        '{serviceid}' => (string) ($params['serviceid'] ?? ''),
        '{userid}' => (string) ($params['userid'] ?? ''),
    ];
    foreach ($vars as $k => $v) {
        if (str_contains($template, $k) && (!preg_match('/^[A-Za-z0-9][A-Za-z0-9._-]*$/', $v) || str_contains($v, '..'))) {
            throw new ApiException("Module setting \"$setting\" uses $k, which is \"$v\" for this service: only letters, digits, '.', '_' and '-' may go into a path", 0, 'invalid');
        }
    }
    return strtr($template, $vars);
}

/**
 * Brings the website's scan settings in line with the product: reads them,
 * changes only what the product manages (what is on and how often, and
 * the document root, repository and retention when their settings are
 * given) and writes them back when something changed. PUT replaces every
 * part, so what the provider set in Palisade by hand (SFTP sources, the
 * database) is carried over; secrets are never answered and are sent
 * empty, which keeps them.
 */
function palisade_apply_scanner(Client $c, array $params, string $domain): void
{
    $plan = palisade_scan_plan($params);
    $root = trim((string) ($params['configoption9'] ?? ''));
    $repo = trim((string) ($params['configoption10'] ?? ''));
    if (!array_filter($plan) && $root === '' && $repo === '') {
        return; // the product manages no scanning
    }
    $st = $c->scanner($domain)['settings'];
    $before = json_encode($st);
    if ($root !== '') {
        $path = palisade_path($params, $root, 'Document root');
        $src = $st['files']['source'] ?? [];
        if (($src['kind'] ?? '') !== 'local' || ($src['path'] ?? '') !== $path) {
            $new = ['kind' => 'local', 'path' => $path];
            // A local document root takes no SFTP password or key.
            if (!empty($src['password_set'])) {
                $new['password'] = '-';
            }
            if (!empty($src['private_key_set'])) {
                $new['private_key'] = '-';
            }
            $st['files']['source'] = $new;
        }
    }
    foreach ($plan as $kind => $want) {
        if ($want === null) {
            continue;
        }
        $st[$kind]['enabled'] = $want['enabled'];
        if ($want['enabled']) {
            $st[$kind]['every_hours'] = $want['every_hours'];
        }
    }
    if ($plan['files'] !== null) {
        $st['files']['auto_clean'] = !empty($params['configoption12']) && $params['configoption12'] !== 'off';
    }
    if ($repo !== '') {
        $st['backup']['repository'] = palisade_path($params, $repo, 'Backup repository');
    }
    $keep = trim((string) ($params['configoption11'] ?? ''));
    if ($keep !== '' && ($plan['backup'] !== null || $repo !== '')) {
        if (!preg_match('#^(\d{1,4})/(\d{1,4})/(\d{1,4})$#', $keep, $m)) {
            throw new ApiException("Module setting \"Backup retention\": daily/weekly/monthly, such as 7/4/6, not \"$keep\"", 0, 'invalid');
        }
        [$st['backup']['keep_daily'], $st['backup']['keep_weekly'], $st['backup']['keep_monthly']] = [(int) $m[1], (int) $m[2], (int) $m[3]];
    }
    if ((($st['backup']['enabled'] ?? false) || ($st['backup']['repository'] ?? '') !== '') && empty($st['backup']['repository_password_set'])) {
        // restic needs one; Palisade keeps it sealed and never answers it.
        $pw = (string) ($params['configoption13'] ?? '');
        $st['backup']['repository_password'] = $pw !== '' ? $pw : bin2hex(random_bytes(24));
    }
    // Palisade sells the scanning features as add-ons: where it requires
    // them, the add-on of a feature switched on is bought first, and that
    // of a feature switched off removed after (nothing is refunded; the
    // renewals stop charging it).
    $addons = palisade_scan_addons($c, $domain, $plan);
    foreach ($addons['buy'] as $product) {
        try {
            $c->addAddon($domain, $product, 1);
        } catch (ApiException $e) {
            if (!$e->is('conflict') || $e->field !== 'addon') {
                // such as too little credit, or a term that has ended
                // (renew first): Palisade's words
                throw $e;
            }
            // bought meanwhile (a retry of WHMCS's): had once, charged once
        }
    }
    if (json_encode($st) !== $before) {
        $c->putScanner($domain, $st);
    }
    foreach ($addons['remove'] as $id) {
        $c->removeAddon($domain, $id);
    }
}

/** The Palisade add-on product of each scan kind the module manages. */
function palisade_scan_addon_products(): array
{
    return ['files' => 'smart', 'patch' => 'smart_patch', 'backup' => 'backup'];
}

/**
 * What the product's scan plan means for the website's Palisade add-ons,
 * when Palisade requires them (scan_addons_required): ['buy' => [product,
 * ...], 'remove' => [add-on id, ...]]. A kind left manual is left alone.
 */
function palisade_scan_addons(Client $c, string $domain, array $plan): array
{
    $out = ['buy' => [], 'remove' => []];
    if (!array_filter($plan)) {
        return $out;
    }
    $list = $c->addons($domain);
    if (empty($list['scan_addons_required'])) {
        return $out;
    }
    $have = [];
    foreach ((array) ($list['data'] ?? []) as $a) {
        $have[(string) $a['addon']] = (int) $a['id'];
    }
    foreach (palisade_scan_addon_products() as $kind => $product) {
        $want = $plan[$kind] ?? null;
        if ($want === null) {
            continue;
        }
        if ($want['enabled'] && !isset($have[$product])) {
            $out['buy'][] = $product;
        } elseif (!$want['enabled'] && isset($have[$product])) {
            $out['remove'][] = $have[$product];
        }
    }
    return $out;
}

/** Admin button: applies the product's scan settings again. */
function palisade_ApplyScanSettings(array $params)
{
    return palisade_run('ApplyScanSettings', $params, function (Client $c) use ($params) {
        palisade_apply_scanner($c, $params, palisade_domain($params));
        return 'success';
    });
}

/**
 * "Scan now": queues a malware scan and a patch check, each if switched
 * on; one already queued or running counts as asked. With neither on,
 * Palisade's own refusal is shown.
 */
function palisade_ScanNow(array $params)
{
    return palisade_run('ScanNow', $params, function (Client $c) use ($params) {
        $domain = palisade_domain($params);
        $st = $c->scanner($domain)['settings'];
        $kinds = array_values(array_filter(['files', 'patch'], static fn ($k) => !empty($st[$k]['enabled'])));
        foreach ($kinds ?: ['files'] as $kind) {
            try {
                $c->startScan($domain, $kind);
            } catch (ApiException $e) {
                if (!$e->is('conflict') || !$kinds) {
                    throw $e;
                }
            }
        }
        return 'success';
    });
}

/**
 * The posted value of $name (the client area's form). Only POST: a link
 * (GET) someone else crafted cannot restore a backup.
 */
function palisade_input(string $name): string
{
    $v = $_POST[$name] ?? '';
    return is_string($v) ? trim($v) : '';
}

/**
 * Restores a backup of the service's own website: the form's snapshot
 * (one of the backups the client area lists), path ("" for every file)
 * and database (1 to restore its database dump too). Palisade checks that
 * the snapshot is this website's.
 */
function palisade_RestoreBackup(array $params)
{
    return palisade_run('RestoreBackup', $params, function (Client $c) use ($params) {
        $snap = palisade_input('snapshot');
        if ($snap === '') {
            throw new ApiException('Choose a backup to restore', 0, 'invalid', 'snapshot');
        }
        $db = in_array(strtolower(palisade_input('database')), ['1', 'on', 'yes', 'true'], true);
        $c->restoreBackup(palisade_domain($params), $snap, palisade_input('path'), $db);
        return 'success';
    });
}

function palisade_ClientAreaCustomButtonArray()
{
    return ['Scan now' => 'ScanNow'];
}

function palisade_ClientAreaAllowedFunctions()
{
    return ['ScanNow', 'RestoreBackup'];
}

function palisade_AdminCustomButtonArray()
{
    return ['Scan now' => 'ScanNow', 'Apply scan settings' => 'ApplyScanSettings'];
}

/**
 * The client area's "Security scan and backups" panel: the open findings,
 * the latest jobs and backups, "Scan now" and a restore form per backup.
 * Empty when nothing is switched on.
 */
function palisade_scan_panel(array $params): string
{
    $r = palisade_run('ClientAreaScans', $params, function (Client $c) use ($params) {
        $domain = palisade_domain($params);
        $st = $c->scanner($domain)['settings'];
        $on = array_filter(['files', 'patch', 'backup'], static fn ($k) => !empty($st[$k]['enabled']));
        if (!$on) {
            return [];
        }
        return [
            'on' => $on,
            'findings' => $c->findings($domain, ['state' => 'open', 'limit' => 20])['data'],
            'jobs' => $c->scans($domain, ['limit' => 5]),
            'backups' => in_array('backup', $on, true) ? $c->backups($domain, 10) : [],
        ];
    });
    if (!is_array($r)) {
        return '<div class="alert alert-warning">' . htmlspecialchars($r) . '</div>';
    }
    if (!$r) {
        return '';
    }
    $h = static fn ($v) => htmlspecialchars((string) $v, ENT_QUOTES);
    $action = 'clientarea.php?action=productdetails&id=' . rawurlencode((string) ($params['serviceid'] ?? '')) . '&modop=custom&a=';
    $token = function_exists('generate_token') ? generate_token('form') : '';
    $out = '<div class="palisade-scans"><h3>Security scan and backups</h3>';
    $out .= '<form method="post" action="' . $h($action . 'ScanNow') . '">' . $token
        . '<button type="submit" class="btn btn-primary">Scan now</button></form>';
    $out .= '<h4>Open findings</h4>';
    if (!$r['findings']) {
        $out .= '<p class="palisade-none">Nothing found.</p>';
    } else {
        $out .= '<table class="table"><tr><th>Where</th><th>What</th><th>Severity</th><th>Since</th></tr>';
        foreach ($r['findings'] as $f) {
            $out .= '<tr><td><code>' . $h($f['location']) . '</code></td><td>' . $h($f['signature']) . '</td><td>'
                . $h($f['severity']) . '</td><td>' . $h(substr((string) $f['first_seen'], 0, 10)) . '</td></tr>';
        }
        $out .= '</table>';
    }
    if ($r['jobs']) {
        $out .= '<h4>Latest jobs</h4><table class="table"><tr><th>Kind</th><th>State</th><th>Queued</th><th></th></tr>';
        foreach ($r['jobs'] as $j) {
            $out .= '<tr><td>' . $h($j['kind']) . '</td><td>' . $h($j['state']) . '</td><td>' . $h(substr((string) $j['created_at'], 0, 16))
                . '</td><td>' . $h($j['error'] ?? '') . '</td></tr>';
        }
        $out .= '</table>';
    }
    if (in_array('backup', $r['on'], true)) {
        $out .= '<h4>Backups</h4>';
        if (!$r['backups']) {
            $out .= '<p class="palisade-none">No backup yet.</p>';
        } else {
            $out .= '<table class="table"><tr><th>Taken</th><th>Files</th><th>Restore</th></tr>';
            foreach ($r['backups'] as $b) {
                $out .= '<tr><td>' . $h(substr((string) $b['time'], 0, 16)) . '</td><td>' . $h($b['files']) . ' (' . $h(round($b['bytes'] / 1048576, 1)) . ' MB)'
                    . (!empty($b['incomplete']) ? ' incomplete: ' . $h($b['incomplete']) : '') . '</td><td>'
                    . '<form method="post" action="' . $h($action . 'RestoreBackup') . '">' . $token
                    . '<input type="hidden" name="snapshot" value="' . $h($b['snapshot']) . '">'
                    . '<input type="text" name="path" placeholder="every file, or e.g. wp-content/uploads">'
                    . (!empty($b['database']) ? ' <label><input type="checkbox" name="database" value="1"> and the database</label>' : '')
                    . ' <button type="submit" class="btn btn-default" onclick="return confirm(\'Restore this backup over the website\\\'s files?\')">Restore</button></form></td></tr>';
            }
            $out .= '</table>';
        }
    }
    return $out . '</div>';
}
