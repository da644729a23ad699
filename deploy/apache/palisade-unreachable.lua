-- Palisade for Apache: the fail-open fallback. mod_authnz_fcgi runs first;
-- when Palisade answered, it has set the user and this hook is not reached.
-- When Palisade could not be asked (down, unreachable), mod_authnz_fcgi
-- declines, and this lets the request through, as nginx's fail-open does.
require "apache2"

function palisade_unreachable(r)
    if r.user == nil or r.user == "" then
        -- mod_authnz_fcgi leaves the failed call's 500 in the request's
        -- status; the request goes on, so it is reset.
        r.status = 200
        r.user = "palisade-unreachable"
        r.subprocess_env["PALISADE_ERROR"] = "unreachable"
        return apache2.OK
    end
    return apache2.DECLINED
end
