/// `budgetrain.models`: model constructors written in Lua with the `nn` namespace.
///
/// Each constructor builds a fresh model from the host's current initialisation generator,
/// so calling it inside a `model = function() ... end` factory gives every run of `train{}`
/// its own seeded weights.
enum ModelsModule {
    static let source = #"""
-- budgetrain.models: a small model zoo, built from the nn namespace.
--
--   local models = require("budgetrain.models")
--   train { model = function() return models.resnet { depth = 20 } end, ... }
--
-- Every constructor takes one option table and checks it: unknown options are errors.

local M = {}

-- Returns opts (or {}) after rejecting options not in `known`; fills in the defaults.
local function options(fn, opts, known)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fn, type(opts)), 3)
  end
  local result = {}
  for k, v in pairs(opts or {}) do
    if known[k] == nil then
      local names = {}
      for name in pairs(known) do names[#names + 1] = name end
      table.sort(names)
      error(("unknown field '%s' to '%s' (known fields: %s)"):format(tostring(k), fn, table.concat(names, ", ")), 3)
    end
    result[k] = v
  end
  for k, default in pairs(known) do
    if result[k] == nil and default ~= false then result[k] = default end
  end
  return result
end

local function activation(fn, name)
  local make = ({ relu = nn.ReLU, tanh = nn.Tanh, sigmoid = nn.Sigmoid, gelu = nn.GELU })[name]
  if make == nil then
    error(("bad field 'activation' to '%s' (relu, tanh, sigmoid or gelu expected, got %s)"):format(fn, tostring(name)), 3)
  end
  return make()
end

--- Multi-layer perceptron: Flatten, then Linear + activation per hidden size, then a
-- Linear classifier.
--   models.mlp { inputs = 784, hidden = {256, 256}, classes = 10, activation = "relu" }
function M.mlp(opts)
  local o = options("models.mlp", opts, { inputs = 784, hidden = { 256, 256 }, classes = 10, activation = "relu" })
  -- The sizes are read raw and bounded: a table's __index or __len must not make the loop
  -- endless.
  if type(o.hidden) ~= "table" or getmetatable(o.hidden) ~= nil or rawlen(o.hidden) > 1000 then
    error("bad field 'hidden' to 'models.mlp' (a list of at most 1000 layer sizes expected)", 2)
  end
  local model = nn.Sequential { nn.Flatten() }
  local width = o.inputs
  for i = 1, rawlen(o.hidden) do
    local h = rawget(o.hidden, i)
    model:add(nn.Linear(width, h))
    model:add(activation("models.mlp", o.activation))
    width = h
  end
  model:add(nn.Linear(width, o.classes))
  return model
end

--- LeNet-5 (LeCun et al., 1998) with max pooling: conv5-pool-conv5-pool, then three
-- Linear layers. A 28x28 input is padded by 2 so both 28x28 (MNIST) and 32x32 (CIFAR)
-- images end in 16 maps of 5x5.
--   models.lenet { in_channels = 1, size = 28, classes = 10, activation = "relu" }
function M.lenet(opts)
  local o = options("models.lenet", opts, { in_channels = 1, size = 28, classes = 10, activation = "relu" })
  local pad = o.size == 28 and 2 or 0
  local s = o.size + 2 * pad - 4          -- after the first 5x5 convolution
  s = s // 2 - 4                          -- after pooling and the second convolution
  s = s // 2                              -- after the second pooling
  if s < 1 then
    error(("bad field 'size' to 'models.lenet' (images of %d pixels are too small for LeNet)"):format(o.size), 2)
  end
  return nn.Sequential {
    nn.Conv2d(o.in_channels, 6, 5, { padding = pad }), activation("models.lenet", o.activation), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), activation("models.lenet", o.activation), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(16 * s * s, 120), activation("models.lenet", o.activation),
    nn.Linear(120, 84), activation("models.lenet", o.activation),
    nn.Linear(84, o.classes),
  }
end

-- conv3x3 without bias (the BatchNorm after it has one).
local function conv3x3(inputs, outputs, stride)
  return nn.Conv2d(inputs, outputs, 3, { stride = stride, padding = 1, bias = false })
end

--- The basic residual block of He et al. (2016): conv3x3-BN-ReLU-conv3x3-BN plus a shortcut
-- (identity, or a 1x1 convolution + BN projection when the shape changes), then ReLU.
function M.basic_block(inputs, outputs, stride)
  stride = stride or 1
  local body = nn.Sequential {
    conv3x3(inputs, outputs, stride), nn.BatchNorm2d(outputs), nn.ReLU(),
    conv3x3(outputs, outputs, 1), nn.BatchNorm2d(outputs),
  }
  local shortcut = nil
  if stride ~= 1 or inputs ~= outputs then
    shortcut = nn.Sequential {
      nn.Conv2d(inputs, outputs, 1, { stride = stride, bias = false }), nn.BatchNorm2d(outputs),
    }
  end
  return nn.Sequential { nn.Residual(body, shortcut), nn.ReLU() }
end

--- CIFAR-style ResNet (He et al., 2016, section 4.2): a 3x3 stem, three stages of n basic
-- blocks with width, 2·width and 4·width channels (the 2nd and 3rd stages halve the
-- resolution), global average pooling and a Linear classifier. depth = 6n + 2
-- (20, 32, 44, 56, 110, ... up to the paper's 1202).
--   models.resnet { depth = 20, width = 16, in_channels = 3, classes = 10 }
function M.resnet(opts)
  local o = options("models.resnet", opts, { depth = 20, width = 16, in_channels = 3, classes = 10 })
  if math.type(o.depth) == nil or o.depth < 8 or o.depth > 1202 or (o.depth - 2) % 6 ~= 0 then
    error(("bad field 'depth' to 'models.resnet' (6n + 2 expected, at most 1202: 8, 14, 20, 32, 44, 56, 110; got %s)"):format(tostring(o.depth)), 2)
  end
  local n = (o.depth - 2) // 6
  local w = o.width
  local model = nn.Sequential { conv3x3(o.in_channels, w, 1), nn.BatchNorm2d(w), nn.ReLU() }
  local inputs = w
  for stage, outputs in ipairs { w, 2 * w, 4 * w } do
    for block = 1, n do
      local stride = (stage > 1 and block == 1) and 2 or 1
      model:add(M.basic_block(inputs, outputs, stride))
      inputs = outputs
    end
  end
  model:add(nn.GlobalAvgPool())
  model:add(nn.Flatten())
  model:add(nn.Linear(inputs, o.classes))
  return model
end

return M
"""#
}
