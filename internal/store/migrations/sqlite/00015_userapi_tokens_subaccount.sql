-- +goose Up
-- A password change revokes every token of the customer (issue 16 item 10):
-- find them by customer, not by scanning the table.
CREATE INDEX userapi_tokens_subaccount ON userapi_tokens(partner_id, subaccount_id);

-- +goose Down
DROP INDEX userapi_tokens_subaccount;
