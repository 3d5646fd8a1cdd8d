@_spi(Fuzzing) import StoreFormat

/// libFuzzer's entry point: one input is the bytes of a file as a member could hold them (a shard header, a
/// journal, a member label) or a file name; ``FormatRoundTrip`` runs every parser over it.
///
/// The pointer is optional because C may pass null with a size of 0; every input is accepted (returns 0).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FormatRoundTrip.check(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}
