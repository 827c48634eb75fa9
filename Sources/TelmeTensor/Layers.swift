/// A fully connected layer, `x W^T + b`, with PyTorch's `nn.Linear` weight layout (`out x in`).
public struct Linear: Sendable {
    public let weight: WeightView
    public let bias: WeightView?

    /// Fetches `<name>.weight` (`out x in`) and, when `bias`, `<name>.bias` (`out`), checking shapes.
    public init(_ weights: any WeightSource, _ name: String, out: Int, in inDim: Int, bias: Bool = true) throws {
        weight = try weights.weight("\(name).weight", shape: [out, inDim])
        self.bias = bias ? try weights.weight("\(name).bias", shape: [out]) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// Applies the layer to every row of `x` in one matrix product.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Ops.linear(x, weight: weight, bias: bias)
    }
}

/// LayerNorm over the last dimension with an affine part, as PyTorch's `nn.LayerNorm`.
public struct LayerNorm: Sendable {
    public let weight: WeightView
    public let bias: WeightView
    public let eps: Float

    /// Fetches `<name>.weight` and `<name>.bias` (both `width`).
    public init(_ weights: any WeightSource, _ name: String, width: Int, eps: Double) throws {
        weight = try weights.weight("\(name).weight", shape: [width])
        bias = try weights.weight("\(name).bias", shape: [width])
        self.eps = Float(eps)
    }

    /// Normalises every row of `x` in place.
    public func callAsFunction(_ x: inout Tensor) {
        Ops.layerNorm(&x, weight: weight, bias: bias, eps: eps)
    }

    /// `x = LayerNorm(x + residual)`, in place.
    public func callAsFunction(_ x: inout Tensor, residual: Tensor) {
        Ops.addLayerNorm(&x, residual: residual, weight: weight, bias: bias, eps: eps)
    }
}
