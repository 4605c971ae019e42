-- protofly guests in Prosody (server/xmpp-guest/README.md): an account whose name holds "~"
-- (alice~a.example) belongs to a user of another domain, admitted by the domain's guest
-- service, which writes it with its password and `protofly_guest_until` (Unix seconds). Such an
-- account lives while the guest is online: it is deleted when its last resource unbinds, and
-- one never used, or left by a restart, once its time has passed (checked at load and every
-- `protofly_guest_sweep` seconds). The domain's own users have no "~" and are never touched.

local usermanager = require "core.usermanager";

local host = module.host;
local accounts = module:open_store("accounts");
local sweep_every = module:get_option_number("protofly_guest_sweep", 60);

local function is_guest(username)
	return username ~= nil and username:find("~", 1, true) ~= nil;
end

local function online(username)
	return prosody.hosts[host].sessions[username] ~= nil;
end

local function remove(username, why)
	local ok, err = usermanager.delete_user(username, host);
	if ok then
		module:log("info", "guest %s@%s removed (%s)", username, host, why);
	else
		module:log("warn", "guest %s@%s not removed: %s", username, host, tostring(err));
	end
end

-- Runs after the session manager took the resource out: no sessions left means all are gone.
module:hook("resource-unbind", function(event)
	local username = event.session.username;
	if is_guest(username) and not online(username) then
		remove(username, "last resource unbound");
	end
end);

local function sweep()
	local now = os.time();
	local expired = {};
	for username in usermanager.users(host) do
		if is_guest(username) and not online(username) then
			local account = accounts:get(username);
			local until_ = account and tonumber(account.protofly_guest_until);
			if not until_ or until_ <= now then
				expired[#expired + 1] = username;
			end
		end
	end
	for _, username in ipairs(expired) do
		remove(username, "unused past its time");
	end
	return sweep_every;
end

module:add_timer(0, sweep);
