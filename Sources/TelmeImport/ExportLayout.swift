/// Names in the HDF5 export written by `Scripts/export_hdf5.py` (`Schemas/hdf5-export.md`).
public enum ExportLayout {
    /// Value of the root attribute `format`.
    public static let formatName = "telme-hdf5-export"
    /// The `format_version` this importer reads.
    public static let formatVersion: Int64 = 1

    public static let formatAttribute = "format"
    public static let versionAttribute = "format_version"
    public static let datasetAttribute = "dataset"
    /// Attribute of `/teacher`, `/audio`, `/video`: the HF `config.json` text.
    public static let configAttribute = "config"

    public static let tokenizerGroup = "tokenizer"
    public static let vocabDataset = "vocab.json"
    public static let mergesDataset = "merges.txt"

    /// The component groups, in the order of `Architecture.tensorSpecs(for:)`.
    public static let components = ["teacher", "audio", "video", "fusion"]

    /// The `.telme` tensor-name prefix of a component (`teacher` -> `teacher.`).
    public static func prefix(of component: String) -> String { component + "." }
}
