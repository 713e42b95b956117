from toolkit.cc5.codes import FINDING_CODES
from toolkit.cc5.findings import Finding
from toolkit.cc5.header import Field, Header, read_header
from toolkit.cc5.report import ValidationReport
from toolkit.cc5.validate import validate
