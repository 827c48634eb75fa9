/// A row-major float32 tensor that owns its storage: the activations between layers.
///
/// The last dimension is the contiguous one; 2-D views (`rows` x `cols`) are what the matrix
/// products see.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not hold \(data.count) values")
        self.shape = shape
        self.data = data
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor whose every value `initialize` writes (`base`, `count`): no zero-filling pass
    /// first, for outputs a product or a copy overwrites whole.
    public init(shape: [Int], writingEveryValue initialize: (UnsafeMutablePointer<Float>, Int) -> Void) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.data = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { initialize(buffer.baseAddress!, count) }
            initialized = count
        }
    }

    public var count: Int { data.count }
    /// Size of the last dimension.
    public var cols: Int { shape.last ?? 1 }
    /// Product of every dimension but the last.
    public var rows: Int { cols == 0 ? 0 : data.count / cols }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Row `i` of the 2-D view.
    public func row(_ i: Int) -> ArraySlice<Float> {
        data[(i * cols)..<((i + 1) * cols)]
    }
}

/// Float32 weights of one tensor, read-only, usually inside the memory-mapped model file.
///
/// The memory belongs to the `WeightSource` that handed it out, which must outlive the view;
/// models keep their source alive for that reason.
public struct WeightView: @unchecked Sendable {
    public let shape: [Int]
    public let base: UnsafePointer<Float>

    public init(shape: [Int], base: UnsafePointer<Float>) {
        self.shape = shape
        self.base = base
    }

    public var count: Int { shape.reduce(1, *) }

    /// The values as a buffer, for elementwise use.
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: base, count: count) }
}

/// Where a model's weights come from (a `.telme` file, or a test's arrays).
public protocol WeightSource: AnyObject, Sendable {
    /// The float32 weights of the tensor with this full name (e.g. `teacher.W.weight`).
    /// Throws when there is no such tensor.
    func weight(_ name: String) throws -> WeightView

    /// Says that `view`'s values will not be read again soon (a layer packed a copy of them):
    /// a source backed by a file may drop those pages from memory (they stay readable).
    func release(_ view: WeightView)
}

extension WeightSource {
    public func release(_ view: WeightView) {}
}

/// A missing or misshapen weight, named.
public struct WeightError: Error, CustomStringConvertible, Equatable {
    public var name: String
    public var expected: [Int]?
    public var found: [Int]?

    public init(name: String, expected: [Int]? = nil, found: [Int]? = nil) {
        self.name = name
        self.expected = expected
        self.found = found
    }

    public var description: String {
        if let expected, let found {
            return "tensor \(name) has shape \(found), expected \(expected)"
        }
        return "tensor \(name) is missing"
    }
}

extension WeightSource {
    /// The weights of `name`, checked to have exactly `shape`.
    public func weight(_ name: String, shape: [Int]) throws -> WeightView {
        let view = try weight(name)
        guard view.shape == shape else { throw WeightError(name: name, expected: shape, found: view.shape) }
        return view
    }
}

/// Weights held in Swift arrays: for tests and for tensors derived at load time.
public final class ArrayWeights: WeightSource, @unchecked Sendable {
    private var storage: [String: (shape: [Int], values: UnsafeMutableBufferPointer<Float>)] = [:]

    public init() {}

    deinit {
        for entry in storage.values { entry.values.deallocate() }
    }

    /// Adds (or replaces) a tensor.
    public func set(_ name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        if let old = storage[name] { old.values.deallocate() }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(values.count, 1))
        _ = buffer.initialize(from: values)
        storage[name] = (shape, buffer)
    }

    public func weight(_ name: String) throws -> WeightView {
        guard let entry = storage[name] else { throw WeightError(name: name) }
        return WeightView(shape: entry.shape, base: UnsafePointer(entry.values.baseAddress!))
    }
}
