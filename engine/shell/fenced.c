/* fenced.c - see fenced.h. The library is Lua, as Redis Functions are. */
#include "fenced.h"

#include <string.h>

/* Lua notes: a nil reply is `false` in Lua, hence `or ''`; TYPE answers a
 * status table {ok = "stream"}; redis.error_reply ends the call with an
 * error reply whose first word is the code the daemon classifies. The
 * checks come before any write, so a refused call writes nothing. */
const char fenced_library_code[] =
    "#!lua name=" FENCED_LIBRARY "\n"
    "-- loyaltyd's fenced writes (engine/shell/fenced.h): every write of a\n"
    "-- partition's owner checks the owner epoch first.\n"
    "local function owned(owner, epoch)\n"
    "  local e = redis.call('HGET', owner, 'epoch')\n"
    "  if not e then\n"
    "    return redis.error_reply('NOOWNER ' .. owner .. ' is missing: Redis lost data')\n"
    "  end\n"
    "  if e ~= epoch then\n"
    "    local who = redis.call('HGET', owner, 'instance')\n"
    "    return redis.error_reply('FENCED the owner epoch is ' .. tostring(e) ..\n"
    "      ', not ' .. epoch .. ' (owner ' .. tostring(who) .. ')')\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "local function streams(names)\n"
    "  for _, k in ipairs(names) do\n"
    "    local t = redis.call('TYPE', k)['ok']\n"
    "    if t ~= 'none' and t ~= 'stream' then\n"
    "      return redis.error_reply('WRONGTYPE ' .. k .. ' is a ' .. t .. ', not a stream')\n"
    "    end\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "local function claim(keys, args)\n"
    "  local cur = redis.call('HMGET', keys[1], 'epoch', 'instance')\n"
    "  local epoch = tonumber(cur[1])\n"
    "  if epoch == nil then\n"
    "    redis.call('HSET', keys[1], 'epoch', '1', 'instance', args[1])\n"
    "    return {1, 'claimed', ''}\n"
    "  end\n"
    "  if args[2] == '1' then\n"
    "    redis.call('HSET', keys[1], 'epoch', string.format('%d', epoch + 1),\n"
    "               'instance', args[1])\n"
    "    return {epoch + 1, 'taken', cur[2] or ''}\n"
    "  end\n"
    "  if cur[2] == args[1] then\n"
    "    return {epoch, 'resumed', ''}\n"
    "  end\n"
    "  return redis.error_reply('FENCED the partition is owned by ' .. tostring(cur[2]) ..\n"
    "    ' at epoch ' .. cur[1])\n"
    "end\n"
    "local function commit(keys, args)\n"
    "  local err = owned(keys[4], args[1]) or streams({keys[1], keys[2], keys[5]})\n"
    "  if err then return err end\n"
    "  local marker = redis.call('GET', keys[3]) or ''\n"
    "  if marker ~= args[2] then\n"
    "    return redis.error_reply('MARKER the progress marker is \"' .. marker ..\n"
    "      '\", not \"' .. args[2] .. '\"')\n"
    "  end\n"
    "  local n_out, n_dlq, n_xfer = tonumber(args[4]), tonumber(args[5]), tonumber(args[7])\n"
    "  local call, out = redis.call, keys[1]\n"
    "  local i = 8\n"
    "  for _ = 1, n_out do\n"
    "    call('XADD', out, '*', 'm', args[i])\n"
    "    i = i + 1\n"
    "  end\n"
    "  for _ = 1, n_dlq do\n"
    "    redis.call('XADD', keys[2], '*', 'm', args[i], 'src', args[i + 1],\n"
    "               'reason', args[i + 2], 'detail', args[i + 3])\n"
    "    i = i + 4\n"
    "  end\n"
    "  for _ = 1, n_xfer do\n"
    "    call('XADD', keys[5], '*', 'm', args[i], 'p', args[i + 1])\n"
    "    i = i + 2\n"
    "  end\n"
    "  if args[6] ~= '0' then\n"
    "    if n_out > 0 then redis.call('XTRIM', keys[1], 'MAXLEN', '~', args[6]) end\n"
    "    if n_dlq > 0 then redis.call('XTRIM', keys[2], 'MAXLEN', '~', args[6]) end\n"
    "  end\n"
    "  redis.call('SET', keys[3], args[3])\n"
    "  return n_out + n_dlq\n"
    "end\n"
    "local function trim(keys, args)\n"
    "  local err = owned(keys[2], args[1])\n"
    "  if err then return err end\n"
    "  return redis.call('XTRIM', keys[1], 'MINID', '~', args[2])\n"
    "end\n"
    "redis.register_function('" FENCED_CLAIM "', claim)\n"
    "redis.register_function('" FENCED_COMMIT "', commit)\n"
    "redis.register_function('" FENCED_TRIM "', trim)\n";

enum fenced_refusal fenced_refusal_of(const char *err, size_t len)
{
    if (len >= 7 && memcmp(err, "FENCED ", 7) == 0)
        return FENCED_EPOCH;
    if ((len >= 7 && memcmp(err, "MARKER ", 7) == 0) ||
        (len >= 8 && memcmp(err, "NOOWNER ", 8) == 0))
        return FENCED_MARKER;
    return FENCED_NOT_REFUSED;
}
