import Foundation
import Reporting
import TestSupport
import Testing
import VolumeIO
@testable import Curation

@Suite("ngff-crop", .serialized)
struct NGFFCropTests {
    static let ngff = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ngff").path

    @Test("the reference's CSV columns parse; bucket URLs become HTTPS")
    func csvAndURLs() throws {
        let csv = """
            url,source,api,download_url,volume_name,mip,voxel_x,voxel_y,voxel_z,crop,crop_size,invert,padding_value
            https://x,openorganelle,xarray,s3://janelia-cosem/jrc_hela-2/neuroglancer/em/fibsem-uint8.precomputed,hela,1,4,4,5.24,TRUE,256,FALSE,0
            ,openconnectome,CloudVolume,s3://open-neurodata/bock11/image,bock2011,1,4,4,x,TRUE,256,FALSE,250
            """
        let rows = try NGFFCrop.parseCSV(csv, path: "d.csv")
        #expect(rows.count == 2)
        #expect(rows[0].volumeName == "hela" && rows[0].mip == 1 && rows[0].crop && !rows[0].invert)
        #expect(rows[1].voxel[2] == nil && rows[1].paddingValue == 250)
        #expect(NGFFCrop.resolve("s3://janelia-cosem/a/b") == "https://janelia-cosem.s3.amazonaws.com/a/b")
        #expect(NGFFCrop.resolve("gs://bucket/k") == "https://storage.googleapis.com/bucket/k")
        #expect(NGFFCrop.resolve("precomputed://https://h/v") == "https://h/v")
        #expect(throws: VolumeIOError.self) { try NGFFCrop.parseCSV("a,b\n1,2", path: "bad.csv") }
    }

    @Test("crops tissue only, at the target level, with its voxel size; resumes; whole levels when crop is FALSE")
    func crops() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cem-ngff-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let server = try LocalHTTPServer(root: Self.ngff)
        defer { server.stop() }
        let omeZarr = NGFFCrop.Dataset(downloadURL: server.baseURL + "/ome.zarr", volumeName: "omez", mip: 1,
                                       voxel: [4, 4, 8], crop: true, cropSize: 16, invert: false, paddingValue: 0)
        let files = try NGFFCrop.run(omeZarr, output: out, gigabytes: 3 * 4096.0 / 1_073_741_824, seed: 2,
                                     progress: SilentProgress())
        #expect(files.count == 3)
        let whole = try NGFF.open(Self.ngff + "/ome.zarr/s1").readAll()
        for file in files {
            let name = (file as NSString).lastPathComponent
            #expect(name.hasPrefix("omez_s1-ROI-x"))
            let roi = try VolumeFile.read(file)
            #expect(roi.spacing == Spacing(x: 8, y: 8, z: 8))
            // Name: omez_s1-ROI-x{x1}-{x2}_y{y1}-{y2}_z{z1}-{z2}.nrrd
            let numbers = name.dropFirst("omez_s1-ROI-".count).dropLast(".nrrd".count)
                .split(whereSeparator: { "xyz_-".contains($0) }).compactMap { Int($0) }
            #expect(numbers.count == 6)
            // Tissue only: the padded columns (x < 30 at s0, < 15 at s1) stay mostly outside.
            #expect(numbers[0] >= 8)
            // The file is the level's box, min-max stretched to bytes.
            let expected = VolumeTools.minMaxToBytes(whole.region(z: numbers[4]..<numbers[5], y: numbers[2]..<numbers[3],
                                                                  x: numbers[0]..<numbers[1]))
            #expect(roi.bytes() == expected.bytes())
        }
        let before = server.requests.count
        _ = try NGFFCrop.run(omeZarr, output: out, gigabytes: 3 * 4096.0 / 1_073_741_824, seed: 2, progress: SilentProgress())
        // Rerun: only metadata and the overview are fetched again, no target-level chunks.
        #expect(!server.requests[before...].contains { $0.hasPrefix("/ome.zarr/s1/") && !$0.hasSuffix(".zarray") })

        let level = NGFFCrop.Dataset(downloadURL: Self.ngff + "/precomputed", volumeName: "prec", mip: 0,
                                     voxel: [nil, nil, nil], crop: false, cropSize: 16, invert: true, paddingValue: 0)
        let saved = try NGFFCrop.run(level, output: out, gigabytes: 1, seed: 0, progress: SilentProgress())
        #expect(saved.map { ($0 as NSString).lastPathComponent } == ["prec_s0.nrrd"])
        let inverted = try VolumeFile.read(saved[0])
        #expect(inverted.shape == [20, 200, 210] && inverted.spacing == Spacing(x: 4, y: 4, z: 8))
        // Padding (0) becomes 255 after inversion.
        #expect(inverted.region(z: 0..<20, y: 0..<200, x: 0..<30).values(as: UInt8.self).allSatisfy { $0 == 255 })

        let missing = NGFFCrop.Dataset(downloadURL: server.baseURL + "/nothing", volumeName: "gone", mip: 0,
                                       voxel: [1, 1, 1], crop: true, cropSize: 16, invert: false, paddingValue: 0)
        #expect(throws: VolumeIOError.self) { try NGFFCrop.run(missing, output: out, gigabytes: 1, seed: 0, progress: SilentProgress()) }
    }
}
