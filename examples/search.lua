-- Budget-aware successive halving against the truncated kind, on Fashion-MNIST.
--
-- The Budgeted Training paper's appendix: with a budget-aware schedule, a small budget ranks
-- configurations as the full budget does, so cheap short runs can choose the configuration.
-- Hyperparameter tools (Optuna's and Ray Tune's successive halving, Hyperband, ASHA) rank
-- partial runs whose schedule is still planned for the maximum budget: "truncated". This
-- script searches 27 configurations (rate × weight decay × width of an MLP) both ways and
-- trains the full grid to measure what each choice costs:
--
--   search-grid        every configuration at 1/27, 1/9, 1/3 and all of the budget, with
--                      linear decay planned for each budget and truncated (planned for the
--                      full budget): the reference, and the data for `budgetrain rank`
--   sh-budget-aware    successive halving, η = 3: 27 → 9 → 3 → 1 configurations, each rung
--                      trained from scratch with linear decay planned for its own budget
--   sh-truncated       the same rungs as Optuna and Ray run them: linear decay planned for the
--                      full budget, survivors promoted (continued) rung to rung
--
-- Configurations are ranked on a validation split of the training set; the test set is not
-- used. Each search's summary shows its rungs, survivors, winner, compute, and the winner's
-- regret against the grid's best at the full budget.
--
--   budgetrain run examples/search.lua --jobs 1                  -- about 7 minutes on 2 shared cores
--   budgetrain run examples/search.lua -- --epochs 5             -- another full budget
--   budgetrain run examples/search.lua -- --quick                -- seconds (tests use it)
--   budgetrain rank runs/search-grid --budget 0.037037 --replay sh   -- the searches replayed on the grid

local opts = require("budgetrain.args").parse(arg, { epochs = 3, quick = false })
local epochs, quick = opts.epochs, opts.quick

local fm = data.fashion_mnist { normalize = true }
local train_part, validation = fm.train:split(5 / 6, 1)   -- 50,000 to train, 10,000 to rank
local space = {
  lr = { 0.01, 0.05, 0.25 },
  weight_decay = { 0, 5e-4, 5e-3 },
  width = { 16, 64, 256 },
}
local eta, budgets, seeds = 3, { 1 / 27, 1 / 9, 1 / 3, 1 }, { 1, 2 }
if quick then
  train_part, validation = train_part:subset(1000, 1), validation:subset(500, 1)
  space = { lr = { 0.05, 0.25 }, weight_decay = { 0, 5e-3 }, width = { 16, 32 } }
  eta, budgets, seeds, epochs = 2, { 1 / 8, 1 / 4, 1 / 2, 1 }, { 1 }, 1
end

-- 784-width-10, ReLU: a factory, so every run gets fresh weights from its seed.
local function mlp(cfg)
  return nn.Sequential { nn.Flatten(), nn.Linear(784, cfg.width), nn.ReLU(), nn.Linear(cfg.width, 10) }
end

local common = {
  data = { train = train_part, test = validation },
  model = mlp,
  optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },   -- lr and weight_decay come from the configuration
  batch_size = 128,
  vary = space,
  checkpoint = false,
}
local function with(fields)
  local t = {}
  for k, v in pairs(common) do t[k] = v end
  for k, v in pairs(fields) do t[k] = v end
  return t
end

local linear = schedule.linear()

experiment(with {
  name = quick and "search-grid-quick" or "search-grid",
  full_budget = { epochs = epochs },
  budgets = budgets,
  schedules = { { "linear", linear }, { "truncated linear", schedule.truncated(linear) } },
  seeds = seeds,
})

local searches = {
  { "sh-budget-aware", {} },
  { "sh-truncated", { truncated = true, continue = true } },
}
for _, s in ipairs(searches) do
  local fields = with {
    name = s[1] .. (quick and "-quick" or ""),
    schedule = linear,
    max_budget = { epochs = epochs },
    min_budget = budgets[1],
    eta = eta,
    seeds = { 1 },
    reference = quick and "search-grid-quick" or "search-grid",
  }
  for k, v in pairs(s[2]) do fields[k] = v end
  search(fields)
end

print(("%d configurations, full budget %s epoch(s) of %d images, ranked on %d validation images"):format(
  #space.lr * #space.weight_decay * #space.width, epochs, #train_part, #validation))
