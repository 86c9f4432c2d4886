-- A small sweep for scripts/bench: --jobs 2 against --jobs 1 (aggregate runs per second).
local quick = arg[1] == "--quick"
local fm = data.fashion_mnist()
experiment {
  name = "bench-grid",
  data = { train = quick and fm.train:subset(2000, 1) or fm.train, test = fm.test:subset(1000, 1) },
  model = function()
    return nn.Sequential { nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10) }
  end,
  loss = nn.CrossEntropy(),
  optimizer = optim.sgd { lr = 0.1, momentum = 0.9, weight_decay = 5e-4 },
  batch_size = 128,
  full_budget = { epochs = 1 },
  budgets = { 1.0 },
  schedules = { linear = schedule.linear(), constant = schedule.constant() },
  seeds = { 1, 2 },
}
