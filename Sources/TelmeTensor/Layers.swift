/// A fully connected layer, `x W^T + b`, with PyTorch's `nn.Linear` weight layout (`out x in`):
/// every dense layer of every model is one.
///
/// It runs on the backend in force when it was made (`Compute`): OpenBLAS on the weights in
/// place, or oneDNN on weights packed once (`PackedDense`). A `quantisable` layer (the encoders'
/// dense layers) runs in int8 when that is the precision in force; the others (embeddings'
/// projections, heads, fusion) always stay float32.
public struct Linear: Sendable {
    /// The weights the OpenBLAS path reads (oneDNN reads its packed copy).
    private let weight: WeightView
    private let bias: WeightView?
    /// Applied to the product: exact GELU for the feed-forward's first layer.
    public let activation: Activation
    private let packed: PackedDense?
    /// Owns `weight` and `bias` when they were stacked from several tensors for OpenBLAS.
    private var stacked: StackedWeights?

    /// Fetches `<name>.weight` (`out x in`) and, when `bias`, `<name>.bias` (`out`), checking shapes.
    public init(_ weights: any WeightSource, _ name: String, out: Int, in inDim: Int, bias: Bool = true,
                activation: Activation = .none, quantisable: Bool = false, backend: Backend = Compute.backend) throws {
        self.init(weight: try weights.weight("\(name).weight", shape: [out, inDim]),
                  bias: bias ? try weights.weight("\(name).bias", shape: [out]) : nil, activation: activation,
                  quantisable: quantisable, backend: backend)
        // oneDNN keeps its own packed copy: the file's pages of these weights can go.
        if packed != nil { weights.release(weight) }
    }

    /// Layers that read the same input, run as one product: the tensors `<name>.weight` (each
    /// `out x in`) and `<name>.bias` of `names` stacked by rows, so the result holds their outputs
    /// side by side in the order of `names` (attention's query, key and value: `x [Wq; Wk; Wv]^T`).
    /// Each output column is the same dot product as in its own layer.
    public init(_ weights: any WeightSource, stacking names: [String], out: Int, in inDim: Int,
                quantisable: Bool = false) throws {
        let parts = try names.map { name in
            (weight: try weights.weight("\(name).weight", shape: [out, inDim]),
             bias: try weights.weight("\(name).bias", shape: [out]))
        }
        let copy = StackedWeights(parts, out: out, in: inDim)
        self.init(weight: copy.weight, bias: copy.bias, quantisable: quantisable)
        // oneDNN packed its own copy; OpenBLAS reads the stacked one. The file's pages can go.
        if packed == nil { stacked = copy }
        for part in parts { weights.release(part.weight) }
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

/// Weights of several layers stacked by rows in memory of their own.
private final class StackedWeights: @unchecked Sendable {
    let weight: WeightView
    let bias: WeightView
    private let storage: UnsafeMutableBufferPointer<Float>

    init(_ parts: [(weight: WeightView, bias: WeightView)], out: Int, in inDim: Int) {
        let rows = out * parts.count
        storage = .allocate(capacity: rows * inDim + rows)
        let base = storage.baseAddress!, biasBase = base + rows * inDim
        for (i, part) in parts.enumerated() {
            (base + i * out * inDim).initialize(from: part.weight.base, count: out * inDim)
            (biasBase + i * out).initialize(from: part.bias.base, count: out)
        }
        weight = WeightView(shape: [rows, inDim], base: base)
        bias = WeightView(shape: [rows], base: biasBase)
    }

    deinit { storage.deallocate() }
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
