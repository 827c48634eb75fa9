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

    /// Memory over the caller's buffer, which must outlive it.
    init(_ desc: UnsafePointer<dnnl_memory_desc_t>, pointer: UnsafeMutableRawPointer) {
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

    deinit { dnnl_memory_destroy(handle) }
}

/// A plain row-major descriptor (or one with explicit strides).
private func plainDesc(_ dims: [Int], _ type: dnnl_data_type_t, strides: [Int]? = nil) -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    let d = dims.map { dnnl_dim_t($0) }
    if let strides {
        let s = strides.map { dnnl_dim_t($0) }
        OneDNN.check(dnnl_memory_desc_init_by_strides(&desc, Int32(d.count), d, type, s), "describing memory")
    } else {
        OneDNN.check(dnnl_memory_desc_init_by_tag(&desc, Int32(d.count), d, type, d.count == 1 ? dnnl_a : dnnl_ab),
                     "describing memory")
    }
    return desc
}

/// A dense layer `x W^T + b` on oneDNN's matmul, with W (PyTorch's `out x in`) reordered once
/// into the layout oneDNN picks for this CPU. The product of each row count gets its own
/// primitive, made on first use and kept (they all read the same packed weights).
///
/// In int8, W is quantised symmetrically per output channel (`s_n = max|W_n| / 127`), and each
/// product quantises its input per row (`a_m = max|x_m| / 127`): `y = a_m s_n (qx_m . qW_n) + b`,
/// with the int32 sums and `s_n` from oneDNN (VNNI where the CPU has it) and `a_m` and the bias
/// applied in float after it.
final class PackedDense: @unchecked Sendable {
    let outFeatures: Int
    let inFeatures: Int
    let precision: Precision
    private let bias: WeightView?
    /// GELU after the bias: oneDNN's `gelu_erf` post-op in float32, `Kernels.gelu` in int8.
    private let gelu: Bool
    /// The packed weights (float32, or int8 with oneDNN's compensation for signed inputs).
    private let weights: Memory
    private var weightsDesc: dnnl_memory_desc_t
    /// int8: `s_n` of each output channel.
    private let channelScales: [Float]
    /// By row count.
    private let primitives = Mutex<[Int: dnnl_primitive_t]>([:])

    /// The row count whose primitive picks the packed layout (oneDNN's blocking depends on the
    /// output and input widths; every row count then runs on the same packed weights).
    private static let layoutRows = 256

    init(weight: WeightView, bias: WeightView?, gelu: Bool, precision: Precision) {
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.precision = precision
        self.bias = bias
        self.gelu = gelu
        let n = outFeatures, k = inFeatures
        // W as oneDNN's `K x N` weights: element (k, n) at n * K + k.
        let elementType = precision == .int8 ? dnnl_s8 : dnnl_f32
        var userDesc = plainDesc([k, n], elementType, strides: [1, k])
        var anyDesc = dnnl_memory_desc_t()
        OneDNN.check(dnnl_memory_desc_init_by_tag(&anyDesc, 2, [dnnl_dim_t(k), dnnl_dim_t(n)], elementType,
                                                  dnnl_format_tag_any), "describing weights")
        var quantised: [Int8] = []
        var scales: [Float] = []
        if precision == .int8 {
            quantised = [Int8](repeating: 0, count: n * k)
            scales = [Float](repeating: 1, count: n)
            for row in 0..<n {
                let w = weight.base + row * k
                var largest: Float = 0
                for i in 0..<k { largest = max(largest, abs(w[i])) }
                let s = largest > 0 ? largest / 127 : 1
                scales[row] = s
                for i in 0..<k { quantised[row * k + i] = Int8(max(-127, min(127, (w[i] / s).rounded(.toNearestOrEven)))) }
            }
        }
        channelScales = scales
        let layoutPD = Self.primitiveDesc(rows: Self.layoutRows, n: n, k: k, weights: &anyDesc, precision: precision,
                                          withBias: bias != nil, gelu: gelu, channelScales: scales)
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
        primitives.withLock { cache in
            for p in cache.values { dnnl_primitive_destroy(p) }
        }
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
        execute(primitive!, &args)
    }

    /// The matmul `[rows, k] x weights -> [rows, n]` (float32 out), with the bias in float32
    /// mode, and the per-channel output scales `s_n` in int8 (fixed in the primitive: oneDNN 2.6
    /// runs scales given at run time on its generic gemm, not on the VNNI brgemm kernels).
    private static func primitiveDesc(rows: Int, n: Int, k: Int, weights: inout dnnl_memory_desc_t,
                                      precision: Precision, withBias: Bool, gelu: Bool,
                                      channelScales: [Float]) -> dnnl_primitive_desc_t {
        var src = plainDesc([rows, k], precision == .int8 ? dnnl_s8 : dnnl_f32)
        var dst = plainDesc([rows, n], dnnl_f32)
        var biasDesc = plainDesc([1, n], dnnl_f32)
        var desc = dnnl_matmul_desc_t()
        let useBias = withBias && precision == .f32
        if useBias {
            OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, &biasDesc, &dst), "describing a matmul")
        } else {
            OneDNN.check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "describing a matmul")
        }
        var attr: dnnl_primitive_attr_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        if precision == .int8 {
            OneDNN.check(dnnl_primitive_attr_set_output_scales(attr, dnnl_dim_t(n), 1 << 1, channelScales), "setting scales")
        } else if gelu {
            var postOps: dnnl_post_ops_t?
            OneDNN.check(dnnl_post_ops_create(&postOps), "creating post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            OneDNN.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_gelu_erf, 0, 0), "adding GELU")
            OneDNN.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "setting post-ops")
        }
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine, nil), "creating a matmul")
        return pd!
    }

    private func primitive(rows: Int) -> dnnl_primitive_t {
        primitives.withLock { cache in
            if let p = cache[rows] { return p }
            let pd = Self.primitiveDesc(rows: rows, n: outFeatures, k: inFeatures, weights: &weightsDesc,
                                        precision: precision, withBias: bias != nil, gelu: gelu, channelScales: channelScales)
            defer { dnnl_primitive_desc_destroy(pd) }
            var p: dnnl_primitive_t?
            OneDNN.check(dnnl_primitive_create(&p, pd), "creating a matmul for \(rows) rows")
            cache[rows] = p!
            return p!
        }
    }

    /// `x W^T + b` over every row of `x`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.cols == inFeatures, "linear: input width \(x.cols), weight \(outFeatures) x \(inFeatures)")
        let rows = x.rows, n = outFeatures, k = inFeatures
        guard rows > 0 else { return Tensor(zeros: Array(x.shape.dropLast()) + [n]) }
        return Tensor(shape: Array(x.shape.dropLast()) + [n]) { out, _ in
            x.data.withUnsafeBufferPointer { xp in
                switch precision {
                case .f32:
                    run(source: UnsafeRawPointer(xp.baseAddress!), rows: rows, into: out)
                case .int8:
                    var rowScales = [Float](repeating: 1, count: rows)
                    var quantised = [Int8](repeating: 0, count: rows * k)
                    Quantize.rows(xp.baseAddress!, rows: rows, width: k, into: &quantised, scales: &rowScales)
                    quantised.withUnsafeBytes { qp in
                        run(source: qp.baseAddress!, rows: rows, into: out)
                    }
                    Quantize.finish(out, rows: rows, width: n, rowScales: rowScales, bias: bias, gelu: gelu)
                }
            }
        }
    }

    /// float32 only: `c[r] = a[r] W^T + b` for `rows` contiguous rows of `a`, into rows of `c`
    /// `ldc` floats apart (a block of columns of a wider output: a convolution's group). A
    /// strided output goes through a contiguous block: oneDNN 2.6 runs a strided destination on
    /// its reference matmul (270 ms for data2vec-audio's 206 x 912 x 48 groups).
    func multiply(_ a: UnsafePointer<Float>, rows: Int, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(precision == .f32, "PackedDense.multiply is float32")
        guard rows > 0 else { return }
        let n = outFeatures
        if ldc == n {
            run(source: UnsafeRawPointer(a), rows: rows, into: c)
            return
        }
        let block = UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
        defer { block.deallocate() }
        run(source: UnsafeRawPointer(a), rows: rows, into: block)
        for r in 0..<rows { (c + r * ldc).update(from: block + r * n, count: n) }
    }

    /// Runs the primitive of `rows` rows on `source` (float32, or int8 already quantised) into
    /// `rows x outFeatures` contiguous floats.
    private func run(source: UnsafeRawPointer, rows: Int, into c: UnsafeMutablePointer<Float>) {
        let p = primitive(rows: rows)
        var srcDesc = plainDesc([rows, inFeatures], precision == .int8 ? dnnl_s8 : dnnl_f32)
        var dstDesc = plainDesc([rows, outFeatures], dnnl_f32)
        let src = Memory(&srcDesc, pointer: UnsafeMutableRawPointer(mutating: source))
        let dst = Memory(&dstDesc, pointer: c)
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst.handle)]
        var biasDesc = plainDesc([1, outFeatures], dnnl_f32)
        let biasMemory = precision == .f32 ? bias.map { Memory(&biasDesc, pointer: UnsafeMutableRawPointer(mutating: $0.base)) } : nil
        if let biasMemory { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: biasMemory.handle)) }
        Gemm.exclusively { execute(p, &args) }
    }
}

private func execute(_ primitive: dnnl_primitive_t, _ args: inout [dnnl_exec_arg_t]) {
    OneDNN.Threads.prepareCaller()
    var stream: dnnl_stream_t?
    OneDNN.check(dnnl_stream_create(&stream, OneDNN.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
    defer { dnnl_stream_destroy(stream) }
    let count = Int32(args.count)
    OneDNN.check(args.withUnsafeBufferPointer { dnnl_primitive_execute(primitive, stream, count, $0.baseAddress) },
                 "running a primitive")
    OneDNN.check(dnnl_stream_wait(stream), "waiting for a primitive")
}

/// The dynamic quantisation of int8 products, and their float epilogue.
enum Quantize {
    /// `q[m][i] = round(x[m][i] / a_m)` with `a_m = max_i |x[m][i]| / 127` (1 for a zero row).
    static func rows(_ x: UnsafePointer<Float>, rows: Int, width: Int, into q: inout [Int8], scales: inout [Float]) {
        nonisolated(unsafe) let xs = x
        q.withUnsafeMutableBufferPointer { qp in
            scales.withUnsafeMutableBufferPointer { sp in
                nonisolated(unsafe) let qBase = qp.baseAddress!, sBase = sp.baseAddress!
                Parallel.forEach(count: rows, floatsPerItem: width) { range in
                    for m in range {
                        let a = Kernels.quantizeRow(xs + m * width, count: width, into: qBase + m * width)
                        sBase[m] = a
                    }
                }
            }
        }
    }

    /// `y[m][n] = y[m][n] * a_m + b_n` (oneDNN has already applied `s_n`), then GELU if asked.
    static func finish(_ y: UnsafeMutablePointer<Float>, rows: Int, width: Int, rowScales: [Float], bias: WeightView?,
                       gelu: Bool) {
        nonisolated(unsafe) let ys = y
        rowScales.withUnsafeBufferPointer { sp in
            nonisolated(unsafe) let scales = sp.baseAddress!
            Parallel.forEach(count: rows, floatsPerItem: width) { range in
                for m in range {
                    let row = ys + m * width
                    let a = scales[m]
                    if let bias {
                        for i in 0..<width { row[i] = row[i] * a + bias.base[i] }
                    } else {
                        for i in 0..<width { row[i] *= a }
                    }
                    if gelu { Kernels.gelu(row, count: width) }
                }
            }
        }
    }
}
