-- The Budgeted Training experiment (Li, Yumer & Ramanan, ICLR 2020) on Fashion-MNIST:
-- which learning-rate schedule makes the most of a fixed budget of iterations?
--
-- A small CNN is trained with five schedules at 5%, 10%, 25%, 50% and 100% of a full budget
-- of 2 epochs, two seeds each (50 runs). Budget-aware schedules (linear, cosine, step with
-- milestones at fractions of the budget) decay to (near) zero exactly when the budget ends;
-- "truncated step" is the off-the-shelf baseline: step decay planned for the full budget and
-- cut off when the small budget ends. The full-batch gradient norm is probed at the end
-- (the paper's "budgeted convergence").
--
--   budgetrain run examples/budgeted_training.lua --jobs 2               -- about ten minutes on 2 cores
--   budgetrain run examples/budgeted_training.lua --jobs 2 -- --epochs 4 -- another full budget
--   budgetrain run examples/budgeted_training.lua -- --quick             -- seconds (tests use it)
--
-- Results: runs/budgeted-training/ (summary.md, report.html, results.csv, metrics per run).

local opts = require("budgetrain.args").parse(arg, { epochs = 2, quick = false })
local epochs, quick = opts.epochs, opts.quick

local fm = data.fashion_mnist { normalize = true }
local budgets, seeds, probe_examples = { 0.05, 0.1, 0.25, 0.5, 1.0 }, { 1, 2 }, 10000
if quick then
  fm = { train = fm.train:subset(1000, 1), test = fm.test:subset(500, 1) }
  budgets, seeds, probe_examples, epochs = { 0.25, 1.0 }, { 1 }, 500, 1
end

-- conv3x3(1->16)-ReLU-maxpool-conv3x3(16->32)-ReLU-maxpool-Linear(1568->128)-ReLU-Linear(128->10)
local function cnn()
  return nn.Sequential {
    nn.Conv2d(1, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
  }
end

local step = schedule.step { milestones = { 0.5, 0.75 }, gamma = 0.1 }

experiment {
  name = quick and "budgeted-training-quick" or "budgeted-training",
  data = fm,
  model = cnn,
  loss = nn.CrossEntropy(),
  optimizer = optim.sgd { lr = 0.1, momentum = 0.9, weight_decay = 5e-4 },
  batch_size = 128,
  full_budget = { epochs = epochs },
  budgets = budgets,
  schedules = {
    { "linear", schedule.linear() },
    { "cosine", schedule.cosine() },
    { "step", step },
    { "truncated step", schedule.truncated(step) },
    { "constant", schedule.constant() },
  },
  seeds = seeds,
  probes = { grad_norm = { 1.0 }, examples = probe_examples },
}
