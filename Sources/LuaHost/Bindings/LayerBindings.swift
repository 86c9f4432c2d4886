import BudgetEngine

/// The layers of the `nn` namespace beyond the basics of `NNBindings`: convolution,
/// normalisation, activations, pooling, dropout and residual connections. Each is one
/// registration; arguments follow Torch / PyTorch.
///
/// ```lua
/// nn.Conv2d(3, 16, 3, { stride = 1, padding = 1, bias = false })
/// nn.BatchNorm2d(16)            -- nn.BatchNorm1d for [N, C] / [N, C, L]; nn.BatchNorm = BatchNorm2d
/// nn.MaxPool2d(2)               -- kernel [, stride] (stride defaults to the kernel)
/// nn.Residual(block [, shortcut])
/// ```
enum LayerBindings {
    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        try registry.layer("nn.Conv2d", host: host) { args, rng in
            let inputs = try args.integer(1), outputs = try args.integer(2), kernel = try args.integer(3)
            let o = try args.options(4, fields: ["stride", "padding", "bias"])
            try args.noMore(than: 4)
            return try Conv2d(
                inChannels: inputs, outChannels: outputs, kernel: kernel, stride: o.integer("stride", default: 1),
                padding: o.integer("padding", default: 0), bias: o.boolean("bias", default: true), rng: &rng)
        }
        for (name, kind) in [("nn.BatchNorm1d", BatchNorm.Kind.oneD), ("nn.BatchNorm2d", .twoD), ("nn.BatchNorm", .twoD)] {
            try registry.layer(name, host: host) { args, _ in
                let channels = try args.integer(1)
                let o = try args.options(2, fields: ["momentum", "eps"])
                try args.noMore(than: 2)
                return try BatchNorm(
                    channels: channels, kind: kind, momentum: Float(o.number("momentum", default: 0.1)),
                    epsilon: Float(o.number("eps", default: 1e-5)))
            }
        }
        try registry.layer("nn.LeakyReLU", host: host) { args, _ in
            let slope = try args.number(1, default: 0.01)
            try args.noMore(than: 1)
            return try LeakyReLU(slope: Float(slope))
        }
        try registry.layer("nn.Tanh", host: host) { Tanh() }
        try registry.layer("nn.Sigmoid", host: host) { Sigmoid() }
        try registry.layer("nn.GELU", host: host) { GELU() }
        try registry.layer("nn.MaxPool2d", host: host) { args, _ in
            let kernel = try args.integer(1), stride = args.isNil(2) ? nil : try args.integer(2)
            try args.noMore(than: 2)
            return try MaxPool2d(kernel: kernel, stride: stride)
        }
        try registry.layer("nn.AvgPool2d", host: host) { args, _ in
            let kernel = try args.integer(1), stride = args.isNil(2) ? nil : try args.integer(2)
            try args.noMore(than: 2)
            return try AvgPool2d(kernel: kernel, stride: stride)
        }
        try registry.layer("nn.GlobalAvgPool", host: host) { GlobalAvgPool() }
        try registry.layer("nn.Dropout", host: host) { args, rng in
            let p = try args.number(1, default: 0.5)
            try args.noMore(than: 1)
            return try Dropout(p: Float(p), rng: &rng)
        }
        try registry.layer("nn.Residual", host: host) { args, _ in
            let block = try args.object(1, as: ModuleHandle.self).layer
            let shortcut = args.isNil(2) ? nil : try args.object(2, as: ModuleHandle.self).layer
            try args.noMore(than: 2)
            let residual = try Residual(block: block, shortcut: shortcut)
            try ModelStructure.validate(residual)
            return residual
        }
        try registry.loss("nn.MSE") { MeanSquaredError() }
    }
}
