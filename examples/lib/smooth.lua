-- A plugin next to the script: examples/budgets.lua loads it with require("lib.smooth").
-- Any Lua function f(p, ctx) returning a multiplier of the base learning rate is a schedule.
local M = {}

--- (1 - p)^power: "poly" decay written in Lua (schedule.poly is the built-in equivalent).
function M.poly(power)
  return function(p) return (1 - p) ^ power end
end

--- Linear decay that stops at `floor` instead of 0; ctx gives the step, budget, epoch, base_lr.
function M.linear_to(floor)
  return function(p, ctx)
    return floor + (1 - floor) * (1 - ctx.step / ctx.budget)
  end
end

return M
