/// A fully connected layer, `x W^T + b`, with PyTorch's `nn.Linear` weight layout (`out x in`):
/// every dense layer of every model is one.
///
/// It runs on the backend in force when it was made (`Compute`): OpenBLAS on the weights in
/// place, or oneDNN on weights packed once (`PackedDense`). A `quantisable` layer (the encoders'
/// dense layers) runs in int8 when that is the precision in force; the others (embeddings'
/// projections, heads, fusion) always stay float32.
public struct Linear: Sendable {
    public let weight: WeightView
    public let bias: WeightView?
    /// Applied to the product: exact GELU for the feed-forward's first layer.
    public let activation: Activation
    private let packed: PackedDense?

    /// Fetches `<name>.weight` (`out x in`) and, when `bias`, `<name>.bias` (`out`), checking shapes.
    public init(_ weights: any WeightSource, _ name: String, out: Int, in inDim: Int, bias: Bool = true,
                activation: Activation = .none, quantisable: Bool = false) throws {
        self.init(weight: try weights.weight("\(name).weight", shape: [out, inDim]),
                  bias: bias ? try weights.weight("\(name).bias", shape: [out]) : nil, activation: activation,
                  quantisable: quantisable)
        // oneDNN keeps its own packed copy: the file's pages of these weights can go.
        if packed != nil { weights.release(weight) }
    }

    /// A layer on weights already fetched (`weight` is `out x in`, `bias` is `out`). The memory
    /// must outlive the layer.
    public init(weight: WeightView, bias: WeightView?, activation: Activation = .none, quantisable: Bool = false,
                backend: Backend = Compute.backend) {
        precondition(weight.shape.count == 2 && bias.map { $0.shape == [weight.shape[0]] } ?? true,
                     "Linear: weight \(weight.shape), bias \(bias?.shape ?? [])")
        self.weight = weight
        self.bias = bias
        self.activation = activation
        switch backend {
        case .openblas:
            packed = nil
        case .onednn:
            let precision: Precision = quantisable ? Compute.precision : .f32
            packed = PackedDense(weight: weight, bias: bias, gelu: activation == .gelu, precision: precision)
        }
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// The arithmetic this layer runs in.
    public var precision: Precision { packed?.precision ?? .f32 }

    /// Applies the layer (and its activation) to every row of `x` in one matrix product.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let packed { return Profile.measure("linear") { packed(x) } }
        var y = Ops.linear(x, weight: weight, bias: bias)
        if activation == .gelu { Ops.gelu(&y) }
        return y
    }
}

/// What a dense layer applies to its product.
public enum Activation: Sendable, Equatable {
    case none
    /// Exact GELU (`Kernels.gelu`; with oneDNN in float32, its `gelu_erf` post-op).
    case gelu
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
