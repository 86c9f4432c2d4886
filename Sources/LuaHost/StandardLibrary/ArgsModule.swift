/// `budgetrain.args`: the command-line options of a script (the words after `--`).
enum ArgsModule {
    static let source = #"""
-- budgetrain.args: a script's options from the words after `--`.
--
--   local opts = require("budgetrain.args").parse(arg, { epochs = 2, quick = false, ["no-trunks"] = false })
--   -- budgetrain run exp.lua -- --quick --epochs 4   gives opts.epochs == 4, opts.quick == true
--
-- Each key of the defaults is an option `--key`: a boolean default makes it a flag (present:
-- true), a number default an option that takes a number. Hyphens in a key read as underscores
-- in the result (`--no-trunks` gives `opts.no_trunks`). Anything else is an error naming the
-- word and the options there are.

local M = {}

function M.parse(words, defaults)
  if type(words) ~= "table" or type(defaults) ~= "table" then
    error("bad argument to 'args.parse' (the script's arg table and a table of defaults expected)", 2)
  end
  local opts, names = {}, {}
  for key, value in pairs(defaults) do
    if type(key) ~= "string" or (type(value) ~= "boolean" and type(value) ~= "number") then
      error(("bad default for '%s' to 'args.parse' (a boolean or a number expected)"):format(tostring(key)), 2)
    end
    opts[key:gsub("-", "_")] = value
    names[#names + 1] = type(value) == "number" and ("--" .. key .. " N") or ("--" .. key)
  end
  table.sort(names)
  local i, n = 1, rawlen(words)
  while i <= n do
    local word = rawget(words, i)
    local key = type(word) == "string" and word:match("^%-%-(.+)$")
    local default = key and defaults[key]
    if type(default) == "boolean" then
      opts[key:gsub("-", "_")] = true
    elseif type(default) == "number" and tonumber(rawget(words, i + 1)) then
      opts[key:gsub("-", "_")] = tonumber(rawget(words, i + 1))
      i = i + 1
    else
      error(("unknown argument '%s' (expected %s)"):format(tostring(word), table.concat(names, ", ")), 0)
    end
    i = i + 1
  end
  return opts
end

return M
"""#
}
