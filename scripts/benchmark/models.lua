-- The budgetrain side of scripts/bench: trains one of the three benchmark models on
-- Fashion-MNIST for a number of steps and prints its throughput as one JSON line.
-- The PyTorch side (torch_models.py) builds the same models with the same settings.
--
--   budgetrain run scripts/benchmark/models.lua --quiet -- MODEL STEPS [SCHEDULE]
--
-- SCHEDULE is `builtin` (schedule.linear(), the default) or `lua` (the same decay written
-- as a Lua function), to measure what a user's Lua schedule costs per step; or `pairs`, which
-- trains with both in alternation in this one process (five pairs, the order flipped every
-- pair) so that the machine's drift hits both alike, and prints both series.
local model_name, steps, schedule_kind = arg[1], tonumber(arg[2]), arg[3] or "builtin"

local function basic_block(cin, cout, stride)
  local body = nn.Sequential {
    nn.Conv2d(cin, cout, 3, { stride = stride, padding = 1, bias = false }), nn.BatchNorm(cout), nn.ReLU(),
    nn.Conv2d(cout, cout, 3, { padding = 1, bias = false }), nn.BatchNorm(cout),
  }
  local shortcut = nil
  if stride ~= 1 or cin ~= cout then
    shortcut = nn.Sequential { nn.Conv2d(cin, cout, 1, { stride = stride, bias = false }), nn.BatchNorm(cout) }
  end
  return nn.Sequential { nn.Residual(body, shortcut), nn.ReLU() }
end

local models = {
  mlp = function()
    return nn.Sequential { nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10) }
  end,
  cnn = function()
    return nn.Sequential {
      nn.Conv2d(1, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(16, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
    }
  end,
  resnet = function()
    return nn.Sequential {
      nn.Conv2d(1, 16, 3, { padding = 1, bias = false }), nn.BatchNorm(16), nn.ReLU(),
      basic_block(16, 16, 1), basic_block(16, 32, 2), basic_block(32, 64, 2),
      nn.GlobalAvgPool(), nn.Linear(64, 10),
    }
  end,
}
assert(models[model_name], "unknown model '" .. tostring(model_name) .. "' (mlp, cnn or resnet)")
assert(steps and steps > 0, "STEPS must be a positive number")
assert(({ builtin = true, lua = true, pairs = true })[schedule_kind], "SCHEDULE must be builtin, lua or pairs")

local schedules = {
  builtin = schedule.linear(),
  lua = function(p) return 1 - p end,
}
local fm = data.fashion_mnist()
local function run(n)
  return train {
    data = { train = fm.train }, model = models[model_name], loss = nn.CrossEntropy(),
    optimizer = optim.sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 5e-4 },
    batch_size = 128, budget = { iterations = n }, schedule = schedules[schedule_kind], seed = 1,
  }
end
-- The warm-up run's first step is the process's first: start-up time is measured to it.
local first_step_at = run(5).started_at  -- warm-up: first-touch of buffers and BLAS threads, as the PyTorch side does

if schedule_kind == "pairs" then
  local series = { builtin = {}, lua = {}, builtin_schedule = {}, lua_schedule = {} }
  for pair = 1, 5 do
    local order = pair % 2 == 1 and { "builtin", "lua" } or { "lua", "builtin" }
    for _, kind in ipairs(order) do
      schedule_kind = kind
      local r = run(steps)
      table.insert(series[kind], string.format("%.6f", r.seconds))
      table.insert(series[kind .. "_schedule"], string.format("%.9f", r.schedule_seconds))
    end
  end
  print(string.format(
    '{"builtin_seconds":[%s],"lua_seconds":[%s],"builtin_schedule_seconds":[%s],"lua_schedule_seconds":[%s]}',
    table.concat(series.builtin, ","), table.concat(series.lua, ","),
    table.concat(series.builtin_schedule, ","), table.concat(series.lua_schedule, ",")))
  return
end

local r = run(steps)
-- FLOPs of one training example as budgetrain counts them (model:flops: 6 per multiply-add of
-- the convolutions and linear layers; see docs/lua-api.md).
local flops = models[model_name]():flops { 1, 28, 28 }
local examples = 0
local per_epoch = math.ceil(#fm.train / 128)
for s = 0, steps - 1 do examples = examples + math.min(128, #fm.train - (s % per_epoch) * 128) end
print(string.format(
  '{"model":"%s","examples_per_second":%.3f,"flops_per_example":%.0f,"seconds":%.6f,"steps":%d,"loss":%.6f,"schedule_seconds":%.9f,"started_at":%.6f%s}',
  model_name, examples / r.seconds, flops, r.seconds, r.steps, r.train_loss, r.schedule_seconds, first_step_at or 0,
  r.gemm_seconds and string.format(',"gemm_seconds":%.6f', r.gemm_seconds) or ""))
