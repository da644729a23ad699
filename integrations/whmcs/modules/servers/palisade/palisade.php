<?php
/**
 * Palisade bot protection: WHMCS provisioning module.
 *
 * Sells a Palisade-protected website as a WHMCS product. The product's
 * server holds the Palisade URL (hostname, with "Secure" for https) and the
 * partner API key (the server's password or access hash). The service's
 * domain is the website.
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
    return '<iframe src="' . $url . '" title="Bot protection" style="width:100%;min-height:900px;border:0" loading="lazy"></iframe>'
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
