-- Budgeted training in miniature (Li, Yumer & Ramanan, ICLR 2020): train the same model under
-- several budgets with several learning-rate schedules and compare test accuracy. Budget-aware
-- schedules (linear, step at fractions of the budget, the Lua ones) adapt to every budget; the
-- "off-the-shelf" step decay planned for the full budget is simply cut off.
--
--   budgetrain run examples/budgets.lua              -- full budget 2 epochs on 10k images
--   budgetrain run examples/budgets.lua -- --quick   -- a few seconds (tests use it)

local smooth = require("lib.smooth")   -- examples/lib/smooth.lua, next to this script

local quick = arg[1] == "--quick"
local fm = data.fashion_mnist()
local train_set = fm.train:subset(quick and 1000 or 10000, 1)
local test_set = fm.test:subset(quick and 500 or 2000, 1)
local full = { epochs = quick and 1 or 2 }
local fractions = quick and { 0.5, 1 } or { 0.25, 0.5, 1 }

local schedules = {
  { "constant", schedule.constant() },
  { "off-the-shelf step", schedule.truncated(schedule.step { milestones = { 0.5, 0.75 } }) },
  { "step", schedule.step { milestones = { 0.5, 0.75 } } },
  { "linear", schedule.linear() },
  { "poly(2) in Lua", smooth.poly(2) },
  { "linear to 0.1 in Lua", smooth.linear_to(0.1) },
}

local function model()
  return nn.Sequential { nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10) }
end

-- One row per schedule, one column per budget.
local header = ("%-22s"):format("schedule \\ budget")
for _, f in ipairs(fractions) do header = header .. ("%10s"):format(("%g%%"):format(100 * f)) end
print(header)
for _, entry in ipairs(schedules) do
  local name, s = entry[1], entry[2]
  local line = ("%-22s"):format(name)
  for _, f in ipairs(fractions) do
    local r = train {
      name = ("%s @ %g%%"):format(name, 100 * f),
      data = { train = train_set, test = test_set },
      model = model,
      optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
      batch_size = 64,
      budget = { epochs = full.epochs * f },
      full_budget = full,
      schedule = s,
      seed = 1,
    }
    line = line .. ("%9.2f%%"):format(100 * r.test_accuracy)
  end
  print(line)
end
