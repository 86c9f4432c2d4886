-- Schedule-free SGD (Defazio et al., "The Road Less Scheduled", NeurIPS 2024) against the
-- budget-aware schedules of Budgeted Training (linear decay, cosine) on Fashion-MNIST.
--
-- A small CNN with BatchNorm is trained at 5%, 10%, 25%, 50% and 100% of a full budget of one
-- epoch, each schedule at each of three base learning rates (`vary`: take the best rate per
-- schedule and budget). Schedule-free SGD needs no decay: it evaluates the average x of its
-- iterates, with BatchNorm statistics recomputed at x. Every run warms up over the first 5%
-- of its budget; schedule-free SGD then trains at a constant rate. The scheduled runs also
-- evaluate a latest-weight average (LAWA: the mean of the last 5 of the snapshots taken every 2%
-- of the budget), reported in summary.md's second table.
--
--   budgetrain run examples/schedule_free.lua                    -- 45 runs, about 15 minutes on 2 cores
--   budgetrain run examples/schedule_free.lua -- --epochs 2      -- another full budget
--   budgetrain run examples/schedule_free.lua -- --quick         -- seconds (tests use it)
--   budgetrain report runs/schedule-free runs/scheduled --out runs/schedule-free-vs-scheduled
--
-- Results: runs/schedule-free/ and runs/scheduled/ (summary.md, report.html, results.csv).

local opts = require("budgetrain.args").parse(arg, { epochs = 1, quick = false })
local epochs, quick = opts.epochs, opts.quick

local fm = data.fashion_mnist { normalize = true }
local budgets, seeds = { 0.05, 0.1, 0.25, 0.5, 1.0 }, { 1 }
-- Schedule-free SGD takes no momentum step of its own, so its rates are several times those of
-- SGD with momentum 0.9 (the authors suggest 10-50 times a classical rate, i.e. one without
-- momentum); the grids bracket the best rates of a pilot at 25% of the budget.
local sgd_rates, schedule_free_rates = { 0.025, 0.05, 0.1 }, { 0.125, 0.25, 0.5 }
if quick then
  fm = { train = fm.train:subset(512, 1), test = fm.test:subset(256, 1) }
  budgets, sgd_rates, schedule_free_rates = { 0.5, 1.0 }, { 0.05 }, { 0.25 }
end

-- conv3x3(1->16)-BN-ReLU-maxpool-conv3x3(16->32)-BN-ReLU-maxpool-Linear(1568->128)-ReLU-Linear(128->10)
local function cnn()
  return nn.Sequential {
    nn.Conv2d(1, 16, 3, { padding = 1 }), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, { padding = 1 }), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
  }
end

local warmup = 0.05
local shared = {
  data = fm, model = cnn, batch_size = 128, full_budget = { epochs = epochs }, budgets = budgets, seeds = seeds,
}
local function experiment_with(fields)
  local t = {}
  for k, v in pairs(shared) do t[k] = v end
  for k, v in pairs(fields) do t[k] = v end
  experiment(t)
end

experiment_with {
  name = quick and "schedule-free-quick" or "schedule-free",
  optimizer = optim.sgd_schedulefree { lr = 0.25, momentum = 0.9, weight_decay = 5e-4 },
  -- The optimizer's own warmup counts steps; a fraction of each budget is a schedule's job.
  schedules = { { "schedule-free", schedule.warmup(warmup, schedule.constant()) } },
  vary = { lr = schedule_free_rates },
}

experiment_with {
  name = quick and "scheduled-quick" or "scheduled",
  optimizer = optim.sgd { lr = 0.05, momentum = 0.9, weight_decay = 5e-4 },
  schedules = {
    { "linear", schedule.warmup(warmup, schedule.linear()) },
    { "cosine", schedule.warmup(warmup, schedule.cosine()) },
  },
  vary = { lr = sgd_rates },
  average = { lawa = { k = 5, every = 0.02 } },
}
