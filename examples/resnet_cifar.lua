-- A CIFAR-style ResNet (He et al., 2016) from the embedded model zoo, trained on CIFAR-10
-- with random crops and flips, SGD with momentum and a linear decay.
--
--   budgetrain run examples/resnet_cifar.lua -- DIR [EPOCHS] [DEPTH]
--       DIR: the CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin), e.g. the
--            cifar-10-batches-bin folder of https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
--   budgetrain run examples/resnet_cifar.lua -- --quick
--       a small ResNet on synthetic 8x8 images, in seconds (tests use it)

local models = require("budgetrain.models")

local quick = arg[1] == "--quick"
local d, depth, width, epochs
if quick then
  d = data.synthetic { kind = "images", n = 256, test = 128, classes = 10, channels = 3, size = 8 }
  depth, width, epochs = 8, 4, 4
else
  assert(arg[1], "usage: budgetrain run examples/resnet_cifar.lua -- DIR [EPOCHS] [DEPTH]  (or -- --quick)")
  d = data.cifar10 { dir = arg[1], normalize = true }
  depth, width, epochs = tonumber(arg[3]) or 20, 16, tonumber(arg[2]) or 30
end
if not quick then
  -- Pad by 4 and crop back, flip left-right: the standard CIFAR augmentation. (The synthetic
  -- classes are fixed pixel patterns, which shifting and mirroring would destroy.)
  d.train = d.train:augment { crop = 4, flip = true }
end

local function model()
  return models.resnet { depth = depth, width = width, in_channels = 3, classes = 10 }
end
local m = model()
print(("ResNet-%d, %d parameters"):format(depth, m:parameter_count()))

local r = train {
  data = d,
  model = model,
  optimizer = optim.sgd { lr = 0.1, momentum = 0.9, weight_decay = 5e-4 },
  batch_size = quick and 32 or 128,
  budget = { epochs = epochs },
  schedule = schedule.warmup(0.02, schedule.linear()),
  eval_every = 0.25,
  seed = 1,
}
for _, e in ipairs(r.evaluations) do
  print(("  p = %.2f  test accuracy %.2f%%"):format(e.progress, 100 * e.test_accuracy))
end
print(("status %s: %d steps in %.1f s, test accuracy %.2f%%"):format(r.status, r.steps, r.seconds, 100 * r.test_accuracy))
