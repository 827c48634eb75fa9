import TelmeCLI

await TelmeCommand.main()
