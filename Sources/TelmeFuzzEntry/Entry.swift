import Foundation
import TelmeFuzz

// libFuzzer's entry points for `Scripts/fuzz.sh`, which links this library with
// `-sanitize=fuzzer,address`. The target is chosen by TELME_FUZZ_TARGET (a `FuzzTarget` name).

private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["TELME_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("TELME_FUZZ_TARGET must be one of: \(names) (is \"\(name)\")\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    target.run(Data(bytes: data, count: size))
    return 0
}
