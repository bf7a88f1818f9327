//! Register offsets and bits of the 8254x family (from Intel's PCI/PCI-X
//! Family of Gigabit Ethernet Controllers Software Developer's Manual,
//! section 13).
#![allow(missing_docs)]

/// Device control.
pub const CTRL: usize = 0x0000;
/// Device status.
pub const STATUS: usize = 0x0008;
/// EEPROM/flash control.
pub const EECD: usize = 0x0010;
/// EEPROM read.
pub const EERD: usize = 0x0014;
/// Interrupt cause read (clear on read).
pub const ICR: usize = 0x00c0;
/// Interrupt throttling.
pub const ITR: usize = 0x00c4;
/// Interrupt cause set.
pub const ICS: usize = 0x00c8;
/// Interrupt mask set/read.
pub const IMS: usize = 0x00d0;
/// Interrupt mask clear.
pub const IMC: usize = 0x00d8;
/// Receive control.
pub const RCTL: usize = 0x0100;
/// Transmit control.
pub const TCTL: usize = 0x0400;
/// Transmit inter-packet gap.
pub const TIPG: usize = 0x0410;
/// Receive descriptor base, low and high.
pub const RDBAL: usize = 0x2800;
pub const RDBAH: usize = 0x2804;
/// Receive descriptor ring length in bytes.
pub const RDLEN: usize = 0x2808;
/// Receive descriptor head and tail.
pub const RDH: usize = 0x2810;
pub const RDT: usize = 0x2818;
/// Receive delay timer.
pub const RDTR: usize = 0x2820;
/// Transmit descriptor base, low and high.
pub const TDBAL: usize = 0x3800;
pub const TDBAH: usize = 0x3804;
/// Transmit descriptor ring length in bytes.
pub const TDLEN: usize = 0x3808;
/// Transmit descriptor head and tail.
pub const TDH: usize = 0x3810;
pub const TDT: usize = 0x3818;
/// Transmit interrupt delay.
pub const TIDV: usize = 0x3820;
/// Receive checksum control.
pub const RXCSUM: usize = 0x5000;
/// Multicast table array (128 dwords).
pub const MTA: usize = 0x5200;
/// Receive address 0, low and high.
pub const RAL0: usize = 0x5400;
pub const RAH0: usize = 0x5404;

// Statistics (all clear on read).
pub const CRCERRS: usize = 0x4000;
pub const ALGNERRC: usize = 0x4004;
pub const SYMERRS: usize = 0x4008;
pub const RXERRC: usize = 0x400c;
pub const MPC: usize = 0x4010;
pub const ECOL: usize = 0x4018;
pub const LATECOL: usize = 0x4020;
pub const COLC: usize = 0x4028;
pub const GPRC: usize = 0x4074;
pub const BPRC: usize = 0x4078;
pub const MPRC: usize = 0x407c;
pub const GPTC: usize = 0x4080;
pub const GORCL: usize = 0x4088;
pub const GORCH: usize = 0x408c;
pub const GOTCL: usize = 0x4090;
pub const GOTCH: usize = 0x4094;
pub const RNBC: usize = 0x40a0;
pub const RUC: usize = 0x40a4;
pub const RFC: usize = 0x40a8;
pub const ROC: usize = 0x40ac;
pub const RJC: usize = 0x40b0;
pub const TPR: usize = 0x40d0;
pub const TPT: usize = 0x40d4;

pub const CTRL_FD: u32 = 1 << 0;
pub const CTRL_LRST: u32 = 1 << 3;
pub const CTRL_ASDE: u32 = 1 << 5;
pub const CTRL_SLU: u32 = 1 << 6;
pub const CTRL_ILOS: u32 = 1 << 7;
pub const CTRL_FRCSPD: u32 = 1 << 11;
pub const CTRL_FRCDPLX: u32 = 1 << 12;
pub const CTRL_RST: u32 = 1 << 26;
pub const CTRL_VME: u32 = 1 << 30;
pub const CTRL_PHY_RST: u32 = 1 << 31;

pub const STATUS_FD: u32 = 1 << 0;
pub const STATUS_LU: u32 = 1 << 1;
pub const STATUS_SPEED_SHIFT: u32 = 6;

pub const EERD_START: u32 = 1 << 0;
pub const EERD_DONE: u32 = 1 << 4;
pub const EERD_ADDR_SHIFT: u32 = 8;
pub const EERD_DATA_SHIFT: u32 = 16;

pub const RCTL_EN: u32 = 1 << 1;
pub const RCTL_SBP: u32 = 1 << 2;
pub const RCTL_UPE: u32 = 1 << 3;
pub const RCTL_MPE: u32 = 1 << 4;
pub const RCTL_LPE: u32 = 1 << 5;
pub const RCTL_RDMTS_HALF: u32 = 0 << 8;
pub const RCTL_BAM: u32 = 1 << 15;
/// Buffer size 2048 (BSIZE = 00, BSEX = 0).
pub const RCTL_BSIZE_2048: u32 = 0 << 16;
pub const RCTL_SECRC: u32 = 1 << 26;

pub const TCTL_EN: u32 = 1 << 1;
pub const TCTL_PSP: u32 = 1 << 3;
pub const TCTL_CT_SHIFT: u32 = 4;
pub const TCTL_COLD_SHIFT: u32 = 12;

pub const RXCSUM_IPOFL: u32 = 1 << 8;
pub const RXCSUM_TUOFL: u32 = 1 << 9;

pub const RAH_AV: u32 = 1 << 31;

/// Interrupt causes (ICR, IMS, IMC).
pub const INT_TXDW: u32 = 1 << 0;
pub const INT_TXQE: u32 = 1 << 1;
pub const INT_LSC: u32 = 1 << 2;
pub const INT_RXSEQ: u32 = 1 << 3;
pub const INT_RXDMT0: u32 = 1 << 4;
pub const INT_RXO: u32 = 1 << 6;
pub const INT_RXT0: u32 = 1 << 7;

// Receive descriptor (legacy): status and error bits.
pub const RXD_STAT_DD: u8 = 1 << 0;
pub const RXD_STAT_EOP: u8 = 1 << 1;
pub const RXD_STAT_IXSM: u8 = 1 << 2;
pub const RXD_STAT_TCPCS: u8 = 1 << 5;
pub const RXD_STAT_IPCS: u8 = 1 << 6;
pub const RXD_ERR_CE: u8 = 1 << 0;
pub const RXD_ERR_SE: u8 = 1 << 1;
pub const RXD_ERR_SEQ: u8 = 1 << 2;
pub const RXD_ERR_CXE: u8 = 1 << 4;
pub const RXD_ERR_TCPE: u8 = 1 << 5;
pub const RXD_ERR_IPE: u8 = 1 << 6;
pub const RXD_ERR_RXE: u8 = 1 << 7;
/// Errors that make a frame unusable (checksum errors do not).
pub const RXD_ERR_FRAME: u8 = RXD_ERR_CE | RXD_ERR_SE | RXD_ERR_SEQ | RXD_ERR_CXE | RXD_ERR_RXE;

// Transmit descriptors.
pub const TXD_CMD_EOP: u8 = 1 << 0;
pub const TXD_CMD_IFCS: u8 = 1 << 1;
pub const TXD_CMD_RS: u8 = 1 << 3;
pub const TXD_CMD_DEXT: u8 = 1 << 5;
pub const TXD_STAT_DD: u8 = 1 << 0;
/// Extended data descriptor type (DTYP = 0001) in bits 20..24 of the
/// length dword; the context descriptor has DTYP = 0000.
pub const TXD_DTYP_DATA: u32 = 1 << 20;
/// Context descriptor TUCMD bits.
pub const TUCMD_TCP: u8 = 1 << 0;
pub const TUCMD_IP: u8 = 1 << 1;
/// Data descriptor POPTS bits.
pub const POPTS_IXSM: u8 = 1 << 0;
pub const POPTS_TXSM: u8 = 1 << 1;

/// Size of one descriptor (all kinds).
pub const DESC_LEN: usize = 16;
