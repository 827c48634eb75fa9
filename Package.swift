// swift-tools-version: 6.0
import PackageDescription


let package = Package(
    name: "telme",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "telme", targets: ["telme"]),
        // libFuzzer's entry points, linked with the fuzzer runtime by Scripts/fuzz.sh (a static
        // library: libFuzzer brings its own `main`).
        .library(name: "TelmeFuzzEntry", type: .static, targets: ["TelmeFuzzEntry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, found with pkg-config.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // oneDNN 2.x (Debian's libdnnl-dev, no pkg-config file) and GNU OpenMP, which it runs on.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat", providers: [
            .apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswresample-dev", "libswscale-dev"]),
        ]),

        // Opening untrusted paths without blocking: regular files only.
        .target(name: "TelmeFiles"),
        // Maths: tensors, matrix products, the elementwise kernels around them.
        .target(name: "TelmeTensor", dependencies: ["CBLAS", "CDNNL"]),
        // The networks: configs, tensor layouts, RoBERTa / data2vec-audio / TimeSformer, TelME heads, ASF.
        .target(name: "TelmeModels", dependencies: ["TelmeTensor"]),
        // Byte-level BPE and the TelME teacher prompt.
        .target(name: "TelmeTokenizer", dependencies: ["TelmeFiles"]),
        // The native `.telme` model file: writer, memory-mapped validating reader.
        .target(name: "TelmeFormat", dependencies: ["TelmeModels", "TelmeTensor", "TelmeFiles"]),
        // libhdf5 wrapper: used by the importer and the `forward` verification command only.
        .target(name: "TelmeHDF5", dependencies: ["CHDF5", "TelmeFiles"]),
        // HDF5 export of the authors' checkpoints -> checked -> `.telme`.
        .target(name: "TelmeImport", dependencies: ["TelmeHDF5", "TelmeModels", "TelmeFormat", "TelmeTokenizer", "TelmeFiles"]),
        // FFmpeg decoding, resampling, frame selection, PIL's resize: clips -> the models' inputs.
        // The only user of CFFmpeg.
        .target(name: "TelmeMedia", dependencies: ["CFFmpeg", "TelmeModels", "TelmeTensor", "TelmeFiles"]),
        // Corpora: CSV corpora, transcript parsers (SRT, WebVTT, WhisperX, CSV), where each
        // utterance's media lie, and the corpus checks of `telme validate`.
        .target(name: "TelmeCorpus", dependencies: ["TelmeMedia", "TelmeTokenizer", "TelmeFiles"]),
        // Annotation runs: the annotator, output writers, the run folder (journal, resume, shards).
        .target(name: "TelmePipeline", dependencies: ["TelmeCorpus", "TelmeMedia", "TelmeModels", "TelmeFormat",
                                                      "TelmeTokenizer", "TelmeTensor", "TelmeFiles"]),
        // Scores a run's records against gold labels (`telme evaluate`).
        .target(name: "TelmeEvaluation", dependencies: ["TelmePipeline", "TelmeCorpus", "TelmeFiles"]),
        // The report page of a run folder (`telme report`): RunReport computes, ReportPage draws.
        .target(name: "TelmeReport", dependencies: ["TelmeEvaluation", "TelmeCorpus", "TelmeFormat"]),
        // `telme bench`'s engine: timings, synthetic inputs, the report.
        .target(name: "TelmeBench", dependencies: ["TelmePipeline", "TelmeFormat", "TelmeModels", "TelmeTensor"]),
        // The subcommands, in a library so tests can call them.
        .target(name: "TelmeCLI", dependencies: [
            "TelmePipeline", "TelmeBench", "TelmeReport", "TelmeEvaluation", "TelmeCorpus", "TelmeMedia", "TelmeImport", "TelmeHDF5", "TelmeFormat", "TelmeModels", "TelmeTokenizer", "TelmeFiles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "telme", dependencies: ["TelmeCLI"]),
        // Fuzz targets: plain functions feeding bytes to every reader of untrusted input (tests
        // replay the corpora through them), and libFuzzer's entry points for Scripts/fuzz.sh.
        .target(name: "TelmeFuzz", dependencies: ["TelmeFormat", "TelmeImport", "TelmeHDF5", "TelmePipeline", "TelmeEvaluation",
                                                "TelmeCorpus", "TelmeTokenizer", "TelmeModels"]),
        .target(name: "TelmeFuzzEntry", dependencies: ["TelmeFuzz"]),

        // What several test targets share: the seeded generator, where the repository and ../shared
        // are, sklearn's expected scores, the tiny models and exports (Fixtures).
        .target(name: "TelmeTestSupport", path: "Tests/TelmeTestSupport", resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmeTensorTests", dependencies: ["TelmeTensor"]),
        .testTarget(name: "TelmeTokenizerTests", dependencies: ["TelmeTokenizer", "TelmeTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmeFormatTests", dependencies: ["TelmeFormat", "TelmeModels", "TelmeTensor"]),
        .testTarget(name: "TelmeImportTests", dependencies: ["TelmeImport", "TelmeHDF5", "TelmeFormat", "TelmeModels", "TelmeTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmeModelsTests",
                    dependencies: ["TelmeModels", "TelmeTensor", "TelmeFormat", "TelmeImport", "TelmeHDF5", "TelmeTestSupport"]),
        .testTarget(name: "TelmeMediaTests", dependencies: ["TelmeMedia", "TelmeModels", "TelmeTensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmeCorpusTests", dependencies: ["TelmeCorpus", "TelmeTokenizer", "TelmeTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmePipelineTests", dependencies: ["TelmePipeline", "TelmeCorpus"]),
        .testTarget(name: "TelmeReportTests", dependencies: ["TelmeReport"]),
        .testTarget(name: "TelmeEvaluationTests", dependencies: ["TelmeEvaluation", "TelmePipeline", "TelmeCorpus"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmeCLITests",
                    dependencies: ["TelmeCLI", "TelmeBench", "TelmePipeline", "TelmeReport", "TelmeEvaluation", "TelmeCorpus", "TelmeMedia",
                                   "TelmeFormat", "TelmeHDF5", "TelmeImport", "TelmeTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TelmeFuzzTests", dependencies: ["TelmeFuzz", "TelmeImport", "TelmeHDF5", "TelmeTestSupport"], resources: [.copy("Fixtures")]),
    ]
)
