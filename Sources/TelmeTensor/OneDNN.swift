internal import CDNNL
import Synchronization

/// oneDNN (the `dnnl` C API): the CPU engine, plain products, and dense layers whose weights
/// are packed once.
///
/// Debian's oneDNN runs on GNU OpenMP; `Parallel` runs the tool's own loops on the same
/// OpenMP threads when oneDNN is the backend, so the cores are never shared by two pools.
enum OneDNN {
    /// The CPU engine, created on first use.
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    /// The stream every layer's product runs on, one at a time (`Gemm.exclusively`).
    nonisolated(unsafe) static let stream: dnnl_stream_t = {
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        return stream!
    }()

    /// Stops on a oneDNN failure. Shapes reach oneDNN only after the models have checked them,
    /// so a failure here is a bug (or memory exhausted), never a property of an input file.
    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success {
            fatalError("oneDNN failed (status \(status.rawValue)) \(what())")
        }
    }

    /// `C = alpha * op(A) * op(B) + beta * C`, row-major (the corresponding C function is
    /// `dnnl_sgemm`). Inside a parallel part it runs on that part's thread.
    static func sgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                      b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                      c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
        Threads.prepareCaller()
        check(dnnl_sgemm(transposeA ? 84 : 78, transposeB ? 84 : 78, dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k),
                         alpha, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc)),
              "in sgemm \(m) x \(n) x \(k)")
    }

    /// The version and the instruction set oneDNN's kernels use on this CPU.
    static var version: String {
        guard let v = dnnl_version()?.pointee else { return "?" }
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    static var isa: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: "sse41"
        case dnnl_cpu_isa_avx: "avx"
        case dnnl_cpu_isa_avx2: "avx2"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        default: "generic"
        }
    }

    /// OpenMP's thread count for oneDNN's work started from the calling thread.
    enum Threads {
        /// OpenMP's thread count is a per-thread setting: set it on the thread about to start
        /// oneDNN work to the process's count (`Gemm.threads`).
        static func prepareCaller() {
            let wanted = Int32(Gemm.threads)
            if omp_in_parallel() == 0 && omp_get_max_threads() != wanted { omp_set_num_threads(wanted) }
        }

        /// Runs `body(thread, threads)` on `threads` OpenMP threads (the caller is thread 0).
        static func run(threads: Int, _ body: (Int, Int) -> Void) {
            withoutActuallyEscaping(body) { body in
                var job = Job(body: body)
                withUnsafeMutablePointer(to: &job) { pointer in
                    GOMP_parallel({ raw in
                        let job = raw!.assumingMemoryBound(to: Job.self).pointee
                        job.body(Int(omp_get_thread_num()), Int(omp_get_num_threads()))
                    }, pointer, UInt32(threads), 0)
                }
            }
        }

        private struct Job {
            let body: (Int, Int) -> Void
        }
    }
}

/// A memory descriptor and the memory objects made from it, freed with their owner.
private final class Memory {
    let handle: dnnl_memory_t

    /// Memory over the caller's buffer, which must outlive it (or over none yet: `point(at:)`).
    init(_ desc: UnsafePointer<dnnl_memory_desc_t>, pointer: UnsafeMutableRawPointer?) {
        var memory: dnnl_memory_t?
        OneDNN.check(dnnl_memory_create(&memory, desc, OneDNN.engine, pointer), "creating memory")
        handle = memory!
    }

    /// Memory that oneDNN allocates itself.
    init(allocating desc: UnsafePointer<dnnl_memory_desc_t>) {
        var memory: dnnl_memory_t?
        OneDNN.check(dnnl_memory_create(&memory, desc, OneDNN.engine, UnsafeMutableRawPointer(bitPattern: -1)),
                     "allocating memory")
        handle = memory!
    }

    /// Makes the memory refer to another buffer of the same description.
    func point(at pointer: UnsafeMutableRawPointer) {
        OneDNN.check(dnnl_memory_set_data_handle(handle, pointer), "setting a buffer")
    }

    deinit { dnnl_memory_destroy(handle) }
}

/// A `rows x cols` matrix as oneDNN's 3-D `1 x rows x cols` (row-major, or with the given
/// strides of rows and columns). Products are described in 3-D because oneDNN 2.6's brgemm
/// kernels take a per-row post-op argument (`1 x rows x 1`) only there: in 2-D the same
/// int8 product falls to the reference kernel.
private func matrixDesc(_ rows: Int, _ cols: Int, _ type: dnnl_data_type_t,
                        strides: (rows: Int, cols: Int)? = nil) -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    let dims = [1, dnnl_dim_t(rows), dnnl_dim_t(cols)]
    if let strides {
        let s = [dnnl_dim_t(rows * cols), dnnl_dim_t(strides.rows), dnnl_dim_t(strides.cols)]
        OneDNN.check(dnnl_memory_desc_init_by_strides(&desc, 3, dims, type, s), "describing memory")
    } else {
        OneDNN.check(dnnl_memory_desc_init_by_tag(&desc, 3, dims, type, dnnl_abc), "describing memory")
    }
    return desc
}

/// A dense layer `x W^T + b` on oneDNN's matmul, with W (PyTorch's `out x in`) reordered once
/// into the layout oneDNN picks for this CPU. The product of each row count gets its own
/// `Plan` (primitive and memory objects), made on first use and kept; they all read the same
/// packed weights.
///
/// In int8, W is quantised symmetrically per output channel (`s_n = max|W_n| / 127`), and each
/// product quantises its input per row (`a_m = max|x_m| / 127`): `y = a_m s_n (qx_m . qW_n) + b`.
/// One primitive does all of it after the quantisation: the int32 sums (VNNI where the CPU has
/// it), `s_n` as output scales fixed in the primitive, then post-ops multiplying by the row
/// scales `a_m` (given at run time), adding the bias and GELU.
final class PackedDense: @unchecked Sendable {
    let outFeatures: Int
    let inFeatures: Int
    let precision: Precision
    /// A copy of the bias (the caller's may be temporary, as a stacked layer's is).
    private let bias: UnsafeMutableBufferPointer<Float>?
    /// GELU after the bias (oneDNN's `gelu_erf` post-op).
    private let gelu: Bool
    /// The packed weights (float32, or int8 with oneDNN's compensation for signed inputs).
    private let weights: Memory
    private var weightsDesc: dnnl_memory_desc_t
    /// int8: `s_n` of each output channel.
    private let channelScales: [Float]
    /// By row count.
    private let plans = Mutex<[Int: Plan]>([:])

    /// The row count whose primitive picks the packed layout (oneDNN's blocking depends on the
    /// output and input widths; every row count then runs on the same packed weights).
    private static let layoutRows = 256

    init(weight: WeightView, bias: WeightView?, gelu: Bool, precision: Precision) {
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.precision = precision
        self.bias = bias.map { b in
            let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: b.count)
            _ = copy.initialize(from: b.buffer)
            return copy
        }
        self.gelu = gelu
        let n = outFeatures, k = inFeatures
        // W as oneDNN's `K x N` weights: element (k, n) at n * K + k.
        let elementType = precision == .int8 ? dnnl_s8 : dnnl_f32
        var userDesc = matrixDesc(k, n, elementType, strides: (rows: 1, cols: k))
        var anyDesc = dnnl_memory_desc_t()
        OneDNN.check(dnnl_memory_desc_init_by_tag(&anyDesc, 3, [1, dnnl_dim_t(k), dnnl_dim_t(n)], elementType,
                                                  dnnl_format_tag_any), "describing weights")
        var quantised: [Int8] = []
        if precision == .int8 {
            (quantised, channelScales) = Quantize.channels(weight)
        } else {
            channelScales = []
        }
        let layoutPD = Self.primitiveDesc(rows: Self.layoutRows, n: n, k: k, weights: &anyDesc, precision: precision,
                                          withBias: bias != nil, gelu: gelu, channelScales: channelScales)
        defer { dnnl_primitive_desc_destroy(layoutPD) }
        weightsDesc = dnnl_primitive_desc_query_md(layoutPD, dnnl_query_weights_md, 0)!.pointee
        weights = Memory(allocating: &weightsDesc)

        // Reorder the plain weights into the packed layout, once.
        if precision == .int8 {
            quantised.withUnsafeMutableBytes { raw in
                reorder(Memory(&userDesc, pointer: raw.baseAddress!), from: &userDesc)
            }
        } else {
            reorder(Memory(&userDesc, pointer: UnsafeMutableRawPointer(mutating: weight.base)), from: &userDesc)
        }
    }

    deinit {
        // The plans (whose memory objects point at the bias) go first.
        plans.withLock { $0.removeAll() }
        bias?.deallocate()
    }

    private func reorder(_ source: Memory, from sourceDesc: inout dnnl_memory_desc_t) {
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_reorder_primitive_desc_create(&pd, &sourceDesc, OneDNN.engine, &weightsDesc, OneDNN.engine, nil),
                     "packing weights")
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&primitive, pd), "packing weights")
        defer { dnnl_primitive_destroy(primitive) }
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: weights.handle)]
        var stream: dnnl_stream_t?
        OneDNN.check(dnnl_stream_create(&stream, OneDNN.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        defer { dnnl_stream_destroy(stream) }
        execute(primitive!, &args, on: stream!)
    }

    /// The matmul `[rows, k] x weights -> [rows, n]` (float32 out). float32: the bias as
    /// oneDNN's bias, GELU as a post-op. int8: the per-channel output scales `s_n` fixed in the
    /// primitive (oneDNN 2.6 runs scales given at run time on its generic gemm, not on the VNNI
    /// brgemm kernels), then post-ops: times the row scales (`[rows, 1]`, a run-time argument),
    /// plus the bias (`[1, n]`), GELU.
    private static func primitiveDesc(rows: Int, n: Int, k: Int, weights: inout dnnl_memory_desc_t,
                                      precision: Precision, withBias: Bool, gelu: Bool,
                                      channelScales: [Float]) -> dnnl_primitive_desc_t {
        let int8 = precision == .int8
        var src = matrixDesc(rows, k, int8 ? dnnl_s8 : dnnl_f32)
        var dst = matrixDesc(rows, n, dnnl_f32)
        var biasDesc = matrixDesc(1, n, dnnl_f32)
        var desc = dnnl_matmul_desc_t()
        if withBias && !int8 {
            OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, &biasDesc, &dst), "describing a matmul")
        } else {
            OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "describing a matmul")
        }
        var attr: dnnl_primitive_attr_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        var postOps: dnnl_post_ops_t?
        OneDNN.check(dnnl_post_ops_create(&postOps), "creating post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        if int8 {
            OneDNN.check(dnnl_primitive_attr_set_output_scales(attr, dnnl_dim_t(n), 1 << 2, channelScales), "setting scales")
            var rowScales = matrixDesc(rows, 1, dnnl_f32)
            OneDNN.check(dnnl_post_ops_append_binary(postOps, dnnl_binary_mul, &rowScales), "adding row scales")
            if withBias {
                OneDNN.check(dnnl_post_ops_append_binary(postOps, dnnl_binary_add, &biasDesc), "adding the bias")
            }
        }
        if gelu {
            OneDNN.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_gelu_erf, 0, 0), "adding GELU")
        }
        OneDNN.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "setting post-ops")
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine, nil), "creating a matmul")
        return pd!
    }

    /// The primitive of one row count and the memory objects of its arguments. The source,
    /// destination and row-scale objects are re-pointed at each call's buffers; calls run one
    /// at a time (`Gemm.exclusively`), so a plan is never used by two at once.
    private final class Plan {
        let primitive: dnnl_primitive_t
        let source: Memory
        let destination: Memory
        let rowScales: Memory?
        var arguments: [dnnl_exec_arg_t]
        /// Keeps the bias memory object alive (it points at the layer's bias for good).
        private let bias: Memory?

        init(_ layer: PackedDense, rows: Int) {
            let int8 = layer.precision == .int8
            let pd = PackedDense.primitiveDesc(rows: rows, n: layer.outFeatures, k: layer.inFeatures,
                                               weights: &layer.weightsDesc, precision: layer.precision,
                                               withBias: layer.bias != nil, gelu: layer.gelu,
                                               channelScales: layer.channelScales)
            defer { dnnl_primitive_desc_destroy(pd) }
            var p: dnnl_primitive_t?
            OneDNN.check(dnnl_primitive_create(&p, pd), "creating a matmul for \(rows) rows")
            primitive = p!
            var srcDesc = matrixDesc(rows, layer.inFeatures, int8 ? dnnl_s8 : dnnl_f32)
            var dstDesc = matrixDesc(rows, layer.outFeatures, dnnl_f32)
            source = Memory(&srcDesc, pointer: nil)
            destination = Memory(&dstDesc, pointer: nil)
            arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: source.handle),
                         dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: layer.weights.handle),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: destination.handle)]
            var biasDesc = matrixDesc(1, layer.outFeatures, dnnl_f32)
            bias = layer.bias.map { Memory(&biasDesc, pointer: UnsafeMutableRawPointer($0.baseAddress!)) }
            if int8 {
                var scalesDesc = matrixDesc(rows, 1, dnnl_f32)
                let scales = Memory(&scalesDesc, pointer: nil)
                rowScales = scales
                arguments.append(dnnl_exec_arg_t(arg: postOpArgument(0), memory: scales.handle))
                if let bias { arguments.append(dnnl_exec_arg_t(arg: postOpArgument(1), memory: bias.handle)) }
            } else {
                rowScales = nil
                if let bias { arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: bias.handle)) }
            }
        }

        deinit { dnnl_primitive_destroy(primitive) }

        /// Runs on `source` into `destination` (and the row scales in int8), on the shared stream.
        func run(source src: UnsafeRawPointer, destination dst: UnsafeMutablePointer<Float>,
                 rowScales scales: UnsafePointer<Float>?) {
            Gemm.exclusively {
                source.point(at: UnsafeMutableRawPointer(mutating: src))
                destination.point(at: UnsafeMutableRawPointer(dst))
                if let rowScales, let scales { rowScales.point(at: UnsafeMutableRawPointer(mutating: scales)) }
                execute(primitive, &arguments, on: OneDNN.stream)
            }
        }
    }

    private func plan(rows: Int) -> Plan {
        plans.withLock { cache in
            if let plan = cache[rows] { return plan }
            let plan = Plan(self, rows: rows)
            cache[rows] = plan
            return plan
        }
    }

    /// `x W^T + b` over every row of `x`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.cols == inFeatures, "linear: input width \(x.cols), weight \(outFeatures) x \(inFeatures)")
        let rows = x.rows, n = outFeatures
        guard rows > 0 else { return Tensor(zeros: Array(x.shape.dropLast()) + [n]) }
        return Tensor(shape: Array(x.shape.dropLast()) + [n]) { out, _ in
            x.data.withUnsafeBufferPointer { xp in
                multiply(xp.baseAddress!, rows: rows, into: out, ldc: n)
            }
        }
    }

    /// `c[r] = a[r] W^T + b` for `rows` contiguous rows of `a`, into rows of `c` `ldc` floats
    /// apart (`ldc > n`: a block of columns of a wider output, a convolution's group). A strided
    /// output goes through a contiguous block: oneDNN 2.6 runs a strided destination on its
    /// reference matmul (270 ms for data2vec-audio's 206 x 912 x 48 groups). In int8 the rows
    /// of `a` are quantised first.
    func multiply(_ a: UnsafePointer<Float>, rows: Int, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard rows > 0 else { return }
        let n = outFeatures, k = inFeatures
        let plan = plan(rows: rows)
        let block = ldc == n ? c : UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
        defer {
            if block != c {
                for r in 0..<rows { (c + r * ldc).update(from: block + r * n, count: n) }
                block.deallocate()
            }
        }
        switch precision {
        case .f32:
            plan.run(source: UnsafeRawPointer(a), destination: block, rowScales: nil)
        case .int8:
            let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            let quantised = UnsafeMutablePointer<Int8>.allocate(capacity: rows * k)
            defer { rowScales.deallocate(); quantised.deallocate() }
            Quantize.rows(a, rows: rows, width: k, into: quantised, scales: rowScales)
            plan.run(source: UnsafeRawPointer(quantised), destination: block, rowScales: rowScales)
        }
    }
}

/// The argument index of post-op `index`'s second input (`DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1`).
private func postOpArgument(_ index: Int32) -> Int32 {
    (DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE * (index + 1)) | DNNL_ARG_SRC_1
}

private func execute(_ primitive: dnnl_primitive_t, _ args: inout [dnnl_exec_arg_t], on stream: dnnl_stream_t) {
    OneDNN.Threads.prepareCaller()
    let count = Int32(args.count)
    OneDNN.check(args.withUnsafeBufferPointer { dnnl_primitive_execute(primitive, stream, count, $0.baseAddress) },
                 "running a primitive")
    OneDNN.check(dnnl_stream_wait(stream), "waiting for a primitive")
}

/// The quantisation of int8 products: weights per output channel at build, activations per row
/// at each product.
enum Quantize {
    /// `W` (`out x in`) as int8 per output channel, `q[n][i] = round(W[n][i] / s_n)` with
    /// `s_n = max_i |W[n][i]| / 127` (1 for a zero row), and the scales.
    static func channels(_ weight: WeightView) -> (values: [Int8], scales: [Float]) {
        let n = weight.shape[0], k = weight.shape[1]
        var scales = [Float](repeating: 1, count: n)
        let values = [Int8](unsafeUninitializedCapacity: n * k) { q, initialized in
            scales.withUnsafeMutableBufferPointer { sp in
                nonisolated(unsafe) let qBase = q.baseAddress!, sBase = sp.baseAddress!
                Parallel.forEach(count: n, floatsPerItem: k) { range in
                    for row in range {
                        sBase[row] = Kernels.quantizeRow(weight.base + row * k, count: k, into: qBase + row * k)
                    }
                }
            }
            initialized = n * k
        }
        return (values, scales)
    }

    /// `q[m][i] = round(x[m][i] / a_m)` with `a_m = max_i |x[m][i]| / 127` (1 for a zero row).
    static func rows(_ x: UnsafePointer<Float>, rows: Int, width: Int, into q: UnsafeMutablePointer<Int8>,
                     scales: UnsafeMutablePointer<Float>) {
        nonisolated(unsafe) let xs = x, qBase = q, sBase = scales
        Parallel.forEach(count: rows, floatsPerItem: width) { range in
            for m in range {
                sBase[m] = Kernels.quantizeRow(xs + m * width, count: width, into: qBase + m * width)
            }
        }
    }
}
