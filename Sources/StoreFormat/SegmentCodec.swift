import CryptoPrimitives
import ErasureCode
import HPKE
import StreamStore

/// Turns a segment's plaintext into its shard files and back.
///
/// Sealing: a fresh data key encrypts the whole segment with AES-256-GCM (a fixed nonce is safe because the key is
/// used once); the key is wrapped to the storage public key with HPKE; the ciphertext is split into k data shards
/// and m parity shards (ISA-L Reed-Solomon); every block of every shard carries its CRC32C. Opening reverses it from
/// any k intact shards, and only with the storage private key.
package struct SegmentCodec {
    package let geometry: ArrayGeometry
    package let code: ReedSolomon
    private static let nonce = [UInt8](repeating: 0, count: 12)

    package init(geometry: ArrayGeometry) throws(StreamStorageError) {
        self.geometry = geometry
        do {
            code = try ReedSolomon(dataShards: geometry.dataShards, parityShards: geometry.parityShards)
        } catch {
            throw .configuration("Reed-Solomon \(geometry.dataShards)+\(geometry.parityShards): \(error)")
        }
    }

    /// Bytes of a stripe: the k + m shard bodies of a segment back to back, without their CRCs.
    package var stripeBytes: Int { geometry.shardsPerSegment * geometry.shardBytes }

    /// Seals a segment into `stripe` (``stripeBytes`` long, reused from one segment to the next, so sealing
    /// allocates nothing large) and returns the segment's header, for shard 0.
    ///
    /// The ciphertext is written straight into the stripe's data shards and the parity computed after it; the
    /// plaintext is not touched and may be reused as soon as this returns.
    package func seal(
        _ plaintext: UnsafeRawBufferPointer, into stripe: UnsafeMutableRawBufferPointer, template: ShardHeader,
        publicKey: X25519PublicKey
    ) throws -> ShardHeader {
        precondition(plaintext.count == geometry.segmentBytes, "only whole segments are sealed")
        precondition(stripe.count == stripeBytes, "a stripe holds every shard of one segment")
        let description = template.segmentDescription
        let dataKey = try CryptoRandom.secretBytes(count: 32)
        let dataBytes = geometry.segmentBytes
        let data = UnsafeMutableRawBufferPointer(rebasing: stripe[..<dataBytes])
        let tag = try AES256GCM.seal(
            key: dataKey, nonce: Self.nonce, plaintext: plaintext, into: data, additionalData: description)
        try code.encode(
            data: UnsafeRawBufferPointer(data), shardLength: geometry.shardBytes,
            parity: UnsafeMutableRawBufferPointer(rebasing: stripe[dataBytes...]))
        let wrapped = try HPKE.seal(
            to: publicKey, info: SegmentKeyWrapping.info, additionalData: description, plaintext: dataKey)
        var header = template
        header.shardIndex = 0
        header.encapsulatedKey = wrapped.encapsulatedKey
        header.wrappedKey = wrapped.ciphertext
        header.dataTag = tag
        return header
    }

    /// Where things are in a shard file.
    package var layout: ShardFileLayout { ShardFileLayout(geometry: geometry) }

    /// Calls `body` with the pieces of shard `index`'s file in order (its header region, the shard's bytes from the
    /// stripe, its checksum region), for a gathering write that copies nothing: with a stripe aligned to
    /// ``ShardFileLayout/alignment``, every piece suits direct I/O.
    package func withShardFileParts<Result>(
        header: ShardHeader, stripe: UnsafeRawBufferPointer, index: Int,
        _ body: ([UnsafeRawBufferPointer]) throws -> Result
    ) rethrows -> Result {
        var shardHeader = header
        shardHeader.shardIndex = index
        let start = index * geometry.shardBytes
        let shard = UnsafeRawBufferPointer(rebasing: stripe[start..<(start + geometry.shardBytes)])
        return try layout.withRegions(encodedHeader: shardHeader.encoded(), checksums: layout.checksums(of: shard)) {
            try body([$0, shard, $1])
        }
    }

    /// A shard file, as bytes.
    package func shardFile(header: ShardHeader, stripe: [UInt8], index: Int) -> [UInt8] {
        var file: [UInt8] = []
        file.reserveCapacity(layout.fileBytes)
        stripe.withUnsafeBytes { stripe in
            withShardFileParts(header: header, stripe: stripe, index: index) { parts in
                for part in parts { file.append(contentsOf: part) }
            }
        }
        return file
    }

    /// Parses and verifies a shard file: its length, header checksum, the segment it claims to be, every block's
    /// CRC, and that its padding is zero.
    package func parseShard(
        _ file: [UInt8], arrayID: [UInt8], stream: String, segment: UInt64, index: Int
    ) throws(FormatError) -> (ShardHeader, [UInt8]) {
        let verified = file.withUnsafeBytes { file in
            Result { () throws(FormatError) in
                try verifyShard(file, arrayID: arrayID, stream: stream, segment: segment, index: index)
            }
        }
        // Verified first: only a file of the right length is sliced.
        let header = try verified.get()
        return (header, Array(file[layout.bodyOffset..<layout.checksumOffset]))
    }

    /// Verifies a shard file in place, as ``parseShard(_:arrayID:stream:segment:index:)`` does; the shard's bytes
    /// are then at ``ShardFileLayout/bodyOffset``.
    package func verifyShard(
        _ file: UnsafeRawBufferPointer, arrayID: [UInt8], stream: String, segment: UInt64, index: Int
    ) throws(FormatError) -> ShardHeader {
        let layout = self.layout
        guard file.count == layout.fileBytes else {
            throw FormatError("the shard is \(file.count) bytes long, not \(layout.fileBytes)")
        }
        let (header, headerLength) = try ShardHeader.decode(Array(file[..<layout.headerRegionBytes]))
        guard header.arrayID == arrayID else { throw FormatError("the shard belongs to another array") }
        guard header.stream == stream, header.segment == segment, header.shardIndex == index else {
            throw FormatError("the shard is \(header.stream) segment \(header.segment) shard \(header.shardIndex)")
        }
        guard header.dataShards == geometry.dataShards, header.parityShards == geometry.parityShards,
            header.shardBytes == geometry.shardBytes, header.blockBytes == geometry.blockBytes
        else { throw FormatError("the shard's geometry differs from the array's") }
        let padding = [
            UnsafeRawBufferPointer(rebasing: file[headerLength..<layout.bodyOffset]),
            UnsafeRawBufferPointer(rebasing: file[(layout.checksumOffset + layout.checksumBytes)...]),
        ]
        guard padding.allSatisfy(ShardFileLayout.isZero) else { throw FormatError("its padding is not zero") }
        let checksums = UnsafeRawBufferPointer(rebasing: file[layout.checksumOffset...])
        for block in 0..<geometry.blocksPerShard {
            let from = layout.bodyOffset + block * geometry.blockBytes
            let bytes = UnsafeRawBufferPointer(rebasing: file[from..<(from + geometry.blockBytes)])
            guard CRC32C.checksum(bytes) == ShardFileLayout.checksum(block, in: checksums) else {
                throw FormatError("block \(block) fails its CRC32C")
            }
        }
        return header
    }

    /// Fills the missing shards (nil) of a stripe from any k present ones; no key is needed.
    package func reconstruct(_ shards: inout [[UInt8]?]) throws(StreamStorageError) {
        let present = shards.compactMap { $0 }.count
        guard present >= geometry.dataShards else {
            throw .unavailable(
                "only \(present) of \(geometry.shardsPerSegment) shards are intact; at least "
                    + "\(geometry.dataShards) are needed, so more than m = \(geometry.parityShards) are lost")
        }
        do {
            try code.reconstruct(&shards)
        } catch {
            throw .corrupt("Reed-Solomon reconstruction failed: \(error)")
        }
    }

    /// A segment decoded from shards that authenticate: its plaintext, every shard of the stripe as the decode
    /// gives it, and the shards given that differ from it (they lie: their CRCs hold but their bytes were changed).
    package struct AuthenticatedSegment {
        package var plaintext: [UInt8]
        package var stripe: [[UInt8]]
        package var disagreeing: [Int]
    }

    /// Decodes and authenticates a segment from `shards` (nil where missing): from the first k present ones, and
    /// when those do not authenticate from every other choice of k in turn, until one does. So up to m shards whose
    /// CRCs hold but whose bytes lie are outvoted by the AEAD, and named. At 8 + 3 there are at most 165 choices.
    package func openAuthenticated(
        _ shards: [[UInt8]?], header: ShardHeader, opener: any SegmentKeyOpener
    ) throws(StreamStorageError) -> AuthenticatedSegment {
        let k = geometry.dataShards
        let present = shards.indices.filter { shards[$0] != nil }
        guard present.count >= k else {
            throw .unavailable(
                "only \(present.count) of \(geometry.shardsPerSegment) shards are intact; at least \(k) are needed, "
                    + "so more than m = \(geometry.parityShards) are lost")
        }
        // One unwrap for every choice: the key belongs to the header, which all of them share.
        let dataKey = try self.dataKey(for: header, opener: opener)
        var choice = Array(0..<k)  // Positions in `present`, ascending: the next choice of k shards.
        while true {
            var trial = [[UInt8]?](repeating: nil, count: shards.count)
            for position in choice { trial[present[position]] = shards[present[position]] }
            if (try? code.reconstruct(&trial)) != nil {
                var plaintext = trial[..<k].flatMap { $0! }
                let opened = plaintext.withUnsafeMutableBytes {
                    (try? openInPlace($0, header: header, dataKey: dataKey)) != nil
                }
                if opened {
                    let stripe = trial.map { $0! }
                    return AuthenticatedSegment(
                        plaintext: plaintext, stripe: stripe,
                        disagreeing: present.filter { shards[$0]! != stripe[$0] })
                }
            }
            // The next combination in lexicographic order; none is left when the first position cannot move.
            guard let moving = (0..<k).last(where: { choice[$0] < present.count - k + $0 }) else { break }
            choice[moving] += 1
            for position in (moving + 1)..<k { choice[position] = choice[position - 1] + 1 }
        }
        throw .corrupt(
            "segment \(header.segment) of \(header.stream) fails authentication from every choice of \(k) of its "
                + "\(present.count) intact shards: more than m = \(geometry.parityShards) were altered, or they belong "
                + "to another array or key")
    }

    /// Whether the intact `shards` (nil where missing) are one codeword: the stripe decoded from the first k of
    /// them, and all of it. More than k intact shards that agree vouch for each other without any key (a shard
    /// changed alone would disagree with the rest); k alone vouch for nothing.
    package func decodeConsistently(_ shards: [[UInt8]?]) -> [[UInt8]]? {
        let present = shards.indices.filter { shards[$0] != nil }
        guard present.count >= geometry.dataShards else { return nil }
        var trial = [[UInt8]?](repeating: nil, count: shards.count)
        for index in present.prefix(geometry.dataShards) { trial[index] = shards[index] }
        guard (try? code.reconstruct(&trial)) != nil else { return nil }
        let stripe = trial.map { $0! }
        return present.allSatisfy({ shards[$0]! == stripe[$0] }) ? stripe : nil
    }

    /// Decrypts a segment from its complete data shards.
    func open(
        dataShards: [[UInt8]], header: ShardHeader, opener: any SegmentKeyOpener
    ) throws(StreamStorageError) -> [UInt8] {
        var buffer = dataShards.flatMap { $0 }
        let dataKey = try self.dataKey(for: header, opener: opener)
        do {
            try buffer.withUnsafeMutableBytes { try openInPlace($0, header: header, dataKey: dataKey) }
        } catch {
            throw error as? StreamStorageError ?? .corrupt("segment \(header.segment) of \(header.stream): \(error)")
        }
        return buffer
    }

    /// The data key of the segment `header` describes, unwrapped by `opener`. An opener that could not try (the keys
    /// are locked, their service is away) is a `configuration` error, never `corrupt`, nor `unavailable` (which
    /// says shards are missing): nothing is wrong with the shards, and nothing may be repaired or counted as damaged
    /// on its word.
    package func dataKey(
        for header: ShardHeader, opener: any SegmentKeyOpener
    ) throws(StreamStorageError) -> SecretBytes {
        let wrapped = WrappedSegmentKey(
            stream: header.stream, segment: header.segment, encapsulatedKey: header.encapsulatedKey,
            ciphertext: header.wrappedKey, description: header.segmentDescription)
        do {
            return try opener.openSegmentKey(wrapped)
        } catch let error as SegmentKeyUnavailable {
            throw .init(
                kind: .configuration,
                message: "segment \(header.segment) of \(header.stream) cannot be read now: \(error)")
        } catch {
            throw .corrupt(
                "the data key of segment \(header.segment) of \(header.stream) does not open (\(error)): its header "
                    + "was altered, or belongs to another array or key")
        }
    }

    /// Decrypts a segment's ciphertext (its data shards back to back) in place with its data key; on failure the
    /// buffer is zeroed.
    package func openInPlace(
        _ segment: UnsafeMutableRawBufferPointer, header: ShardHeader, dataKey: SecretBytes
    ) throws(StreamStorageError) {
        do {
            try AES256GCM.openInPlace(
                key: dataKey, nonce: Self.nonce, buffer: segment, tag: header.dataTag,
                additionalData: header.segmentDescription)
        } catch {
            throw .corrupt(
                "segment \(header.segment) of \(header.stream) fails authentication (\(error)): its shards were "
                    + "altered, or belong to another array or key")
        }
    }
}
