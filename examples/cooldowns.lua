-- Warmup-stable-decay and its cooldowns, trained once for every budget (Hu et al. 2024,
-- "MiniCPM"; Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed
-- Training Durations"): a run at a constant rate, with a short cooldown (the last 10% or 20%
-- of the budget, linear or 1-sqrt) wherever a budget ends, against linear decay from scratch.
--
-- The WSD runs of one seed share everything but their cooldowns, so budgetrain trains the
-- full-budget run once and branches each shorter budget's cooldown from it (a "trunk"); the
-- summary says how many steps that saved. Every result is bit for bit that of a run trained on
-- its own (share_trunks = false trains them so).
--
--   budgetrain run examples/cooldowns.lua --jobs 2                -- the CNN of budgeted_training.lua, 2 epochs
--   budgetrain run examples/cooldowns.lua --jobs 2 -- --epochs 4
--   budgetrain run examples/cooldowns.lua -- --quick              -- seconds (tests use it)
--
-- Results: runs/cooldowns/ (summary.md, report.html, results.csv, metrics per run).

local opts = require("budgetrain.args").parse(arg, { epochs = 2, quick = false, ["no-trunks"] = false })
local epochs, quick, share = opts.epochs, opts.quick, not opts.no_trunks

local fm = data.fashion_mnist { normalize = true }
local budgets, seeds = { 0.05, 0.1, 0.25, 0.5, 1.0 }, { 1, 2 }
if quick then
  fm = { train = fm.train:subset(1000, 1), test = fm.test:subset(500, 1) }
  budgets, seeds, epochs = { 0.25, 1.0 }, { 1 }, 1
end

local function cnn()
  return nn.Sequential {
    nn.Conv2d(1, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
  }
end

-- wsd-0.1-linear, wsd-0.2-linear, wsd-0.1-1-sqrt, wsd-0.2-1-sqrt: the cooldown's length and
-- shape are grid axes.
local schedules = schedule.wsd_grid { decay = { 0.1, 0.2 }, shape = { "linear", "1-sqrt" } }
table.insert(schedules, 1, { "linear", schedule.linear() })

experiment {
  name = quick and "cooldowns-quick" or "cooldowns",
  data = fm,
  model = cnn,
  optimizer = optim.sgd { lr = 0.1, momentum = 0.9, weight_decay = 5e-4 },
  batch_size = 128,
  full_budget = { epochs = epochs },
  budgets = budgets,
  schedules = schedules,
  seeds = seeds,
  share_trunks = share,
}
