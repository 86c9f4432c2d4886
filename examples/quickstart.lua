-- Quickstart: an MLP on Fashion-MNIST with a linearly decaying learning rate, the schedule
-- the Budgeted Training paper recommends for any budget.
--
--   budgetrain run examples/quickstart.lua                 -- 2 epochs, a minute or less
--   budgetrain run examples/quickstart.lua -- --epochs 5   -- any budget
--   budgetrain run examples/quickstart.lua -- --quick      -- a few seconds (tests use it)
--
-- Fashion-MNIST comes from Debian's dataset-fashion-mnist package; pass { dir = ... } to
-- data.fashion_mnist to read another copy.

local opts = require("budgetrain.args").parse(arg, { epochs = 2, quick = false })
local epochs, quick = opts.epochs, opts.quick

local fm = data.fashion_mnist()
if quick then
  -- 2000 training and 1000 test images, half an epoch of them: enough to see learning.
  fm = { train = fm.train:subset(2000, 1), test = fm.test:subset(1000, 1) }
  epochs = 0.5
end

-- 784-256-256-10 with ReLUs. A factory: every run gets fresh weights drawn from its seed.
local function model()
  return nn.Sequential {
    nn.Flatten(),
    nn.Linear(784, 256), nn.ReLU(),
    nn.Linear(256, 256), nn.ReLU(),
    nn.Linear(256, 10),
  }
end

print(model())
print(("training for %s epoch(s) on %d images"):format(epochs, #fm.train))

local result = train {
  data = fm,
  model = model,
  loss = nn.CrossEntropy(),
  optimizer = optim.sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 5e-4 },
  batch_size = 128,
  budget = { epochs = epochs },
  schedule = schedule.linear(),
  seed = 1,
}

print(("status %s: %d steps in %.1f s, train loss %.4f, test loss %.4f, test accuracy %.2f%%"):format(
  result.status, result.steps, result.seconds, result.train_loss, result.test_loss, 100 * result.test_accuracy))
