<?php

declare(strict_types=1);

namespace Palisade;

/**
 * An error answer of the Palisade API, or a failure to reach it.
 *
 * $status is the HTTP status (0 when Palisade could not be reached), $code
 * Palisade's error code (invalid, not_found, conflict, unauthorized,
 * forbidden, payment_required, precondition_failed, rate_limited,
 * unavailable, outcome_unknown, internal; "unreachable" without an answer;
 * "broken_download" for a backup download cut after it started),
 * $field the input field it is about, $errors every problem of an invalid
 * settings document.
 *
 * "unavailable" (503) means nothing was changed: retry after $retryAfter.
 * "outcome_unknown" (502) means the change may or may not have been made:
 * read the resource before retrying, or retry with the same idempotency
 * key, which answers the first result and never charges twice.
 */
final class ApiException extends \RuntimeException
{
    public function __construct(
        string $message,
        public readonly int $status,
        public readonly string $errorCode,
        public readonly string $field = '',
        public readonly array $errors = [],
        public readonly int $retryAfter = 0,
    ) {
        parent::__construct($message, $status);
    }

    public function is(string $code): bool
    {
        return $this->errorCode === $code;
    }
}
