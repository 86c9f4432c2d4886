-- A schedule refined from gradient norms against linear decay, on Fashion-MNIST.
--
-- Defazio, Cutkosky, Mehta & Mishchenko, "When, Why and How Much? Adaptive Learning Rate
-- Scheduling by Refinement" (2023): linear decay is the best schedule for the worst case;
-- for a given problem, the gradient norms ‖g_t‖ of a previous run give a better one,
-- η_t ∝ w_t Σ_{p>t} w_p with w_t = ‖g_t‖⁻² (median-smoothed), which the paper finds warms up
-- and anneals faster at the end. This script:
--
--   refined-source   trains the small CNN once with linear decay over the full budget,
--                    logging every step's minibatch gradient norm (probes.step_grad_norm)
--   refined          linear decay against the schedule refined from that run's norms, at
--                    25%, 50% and 100% of the budget, three seeds each, with evaluations at
--                    quarters of each run and the time each takes to reach 88% and 90%
--
--   budgetrain run examples/refined.lua --jobs 1               -- about 14 minutes on 2 shared cores
--   budgetrain run examples/refined.lua -- --epochs 3          -- another full budget
--   budgetrain run examples/refined.lua -- --quick             -- seconds (tests use it)
--   budgetrain schedule 'schedule.refined { from = "runs/refined-source/linear-b1-s1" }' --format text

local opts = require("budgetrain.args").parse(arg, { epochs = 2, quick = false })
local epochs, quick = opts.epochs, opts.quick

local fm = data.fashion_mnist { normalize = true }
local budgets, seeds = { 0.25, 0.5, 1 }, { 1, 2, 3 }
if quick then
  fm = { train = fm.train:subset(1000, 1), test = fm.test:subset(500, 1) }
  budgets, seeds, epochs = { 0.5, 1 }, { 1 }, 1
end
local suffix = quick and "-quick" or ""

-- conv3x3(1->16)-ReLU-maxpool-conv3x3(16->32)-ReLU-maxpool-Linear(1568->128)-ReLU-Linear(128->10)
local function cnn()
  return nn.Sequential {
    nn.Conv2d(1, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
  }
end

local optimizer = optim.sgd { lr = 0.1, momentum = 0.9, weight_decay = 5e-4 }
local flops = cnn():flops { 1, 28, 28 }
print(("CNN: %d parameters, %.1f MFLOPs per training example"):format(cnn():parameter_count(), flops / 1e6))

experiment {
  name = "refined-source" .. suffix,
  data = fm, model = cnn, optimizer = optimizer, batch_size = 128,
  full_budget = { epochs = epochs },
  schedules = { linear = schedule.linear() },
  seeds = { 1 },
  probes = { step_grad_norm = true },
  checkpoint = false,
}

-- Read once the source run has trained (experiments run in the order they are declared).
local refined = schedule.refined {
  from = budgetrain.out_dir .. "/refined-source" .. suffix .. "/linear-b1-s1",
  smooth = 0.05,
}

experiment {
  name = "refined" .. suffix,
  data = fm, model = cnn, optimizer = optimizer, batch_size = 128,
  full_budget = { epochs = epochs },
  budgets = budgets,
  schedules = { { "linear", schedule.linear() }, { "refined", refined } },
  seeds = seeds,
  eval_at = { 0.25, 0.5, 0.75, 1 },
  targets = { 0.88, 0.90 },
  checkpoint = false,
}
