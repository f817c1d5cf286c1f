import Foundation

extension GrayImage {
    /// OpenCV's `cv2.resize(..., interpolation=INTER_LINEAR)` for 8-bit images (what the reference's
    /// classifier transforms and FactorResize call): bit-exact with OpenCV 4.8-4.12, see
    /// `resizedCV2Linear`. Same size → a copy.
    public func resizedLikeOpenCV(width outWidth: Int, height outHeight: Int) -> GrayImage {
        resizedCV2Linear(width: outWidth, height: outHeight)
    }
}
