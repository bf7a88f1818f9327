//! The crate's error type.

/// Everything that can go wrong in `lamina-drivers-pci`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No function answers at this address (vendor ID reads `0xffff`).
    #[error("no PCI function at this address")]
    NoDevice,
    /// The function's header type is not the one the operation needs
    /// (type 0 for endpoints).
    #[error("unsupported PCI header type {0:#04x}")]
    UnsupportedHeaderType(u8),
    /// A base address register cannot be decoded (a 64-bit BAR in the last
    /// slot, a reserved memory type).
    #[error("BAR {index} is malformed")]
    BadBar {
        /// Index of the BAR (0 to 5).
        index: u8,
    },
    /// The capability list points outside the capability area
    /// (`0x40..=0xfc` in standard configuration space).
    #[error("capability pointer {offset:#04x} is out of range")]
    CapabilityOutOfRange {
        /// The offending pointer.
        offset: u16,
    },
    /// The capability list visits the same capability twice.
    #[error("capability list loops back to {offset:#04x}")]
    CapabilityLoop {
        /// The capability met a second time.
        offset: u16,
    },
    /// A capability is shorter than its layout requires.
    #[error("capability at {offset:#04x} is too short")]
    CapabilityTooShort {
        /// Offset of the capability.
        offset: u16,
    },
    /// The function is not the device the driver drives.
    #[error("unexpected device {vendor:04x}:{device:04x}")]
    WrongDevice {
        /// Vendor ID found.
        vendor: u16,
        /// Device ID found.
        device: u16,
    },
    /// A structure the driver needs is absent (a BAR, a virtio capability).
    #[error("missing {0}")]
    Missing(&'static str),
    /// A region described by the device does not fit where it must (a
    /// virtio structure beyond its BAR, a queue larger than allowed).
    #[error("{0} out of bounds")]
    OutOfBounds(&'static str),
    /// The device did not complete an operation in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Feature negotiation failed: the device rejected the features the
    /// driver needs, or does not offer one that is mandatory.
    #[error("feature negotiation failed: {0}")]
    Features(&'static str),
    /// The device reported a fatal error (virtio `DEVICE_NEEDS_RESET`).
    #[error("device needs reset")]
    DeviceFailed,
    /// The HAL could not provide DMA memory or a mapping.
    #[error("HAL: {0}")]
    Hal(#[from] crate::hal::HalError),
    /// A parameter is outside what the driver supports (ring size, buffer
    /// size).
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
}
