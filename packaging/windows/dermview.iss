; Inno Setup script for dermview on Windows (https://jrsoftware.org/isinfo.php).
; First build the one-folder bundle on Windows:  python packaging\build.py
; then compile this script:                    iscc packaging\windows\dermview.iss
; Result: dist\dermview-0.1.0-setup.exe, a per-user install with a Start-menu entry and an uninstaller.

#define AppName "dermview"
#define AppVersion "0.1.0"
#define Root "..\.."

[Setup]
AppId={{6C1E7B4E-1F0B-4C53-9D7A-2F1D2C9E5A10}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=dermview
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
; Per-user by default (no administrator rights needed); the user may choose all users instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir={#Root}\dist
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile={#Root}\packaging\icons\dermview.ico
UninstallDisplayIcon={app}\dermview.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller one-folder build: dermview.exe and its _internal folder.
Source: "{#Root}\dist\dermview\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\dermview.exe"; Comment: "Research and teaching aid, not a medical device"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\dermview.exe"; Tasks: desktopicon

[Registry]
; "Open with dermview" for JPEG and PNG files (the image path arrives on the command line).
Root: HKA; Subkey: "Software\Classes\Applications\dermview.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\dermview.exe"" ""%1"""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\dermview.exe\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\dermview.exe\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\dermview.exe\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithList\dermview.exe"; ValueType: string; ValueName: ""; ValueData: ""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.png\OpenWithList\dermview.exe"; ValueType: string; ValueName: ""; ValueData: ""; Flags: uninsdeletekey

[Run]
Filename: "{app}\dermview.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

; dermview keeps its cache, settings and logs in %LOCALAPPDATA%\dermview and %APPDATA%\dermview;
; the uninstaller leaves them (the feature cache can be rebuilt, settings are the user's).
