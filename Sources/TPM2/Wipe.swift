#if canImport(Glibc)
    import Glibc
#endif

/// Overwrites a C structure that held secret bytes (sealed data, a wrapped private blob) with zeros, through
/// explicit_bzero, which the optimiser may not remove as a dead store before the memory is freed.
func wipe<Value>(_ value: inout Value) {
    withUnsafeMutableBytes(of: &value) { bytes in
        if let base = bytes.baseAddress { explicit_bzero(base, bytes.count) }
    }
}
